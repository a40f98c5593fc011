"""SentencePiece ModelProto at the protobuf wire level, without the protobuf or sentencepiece packages.

Enough to read and rewrite a `.model` file's pieces (ModelProto field 1, each a SentencePiece message with
1 piece, 2 score, 3 type) and keep every other field (trainer_spec 2, normalizer_spec 3, ...) byte for byte.
Used by glm_fixtures.py (ChatGLM's piece order) and ops/gpu/bench/make_glm_model.py (a ChatGLM-6B-sized
vocabulary grown from the fixture's model).
"""
import struct

# ModelProto.SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def varint(buf, i):
    """(value, next index) of the varint at buf[i]."""
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    """Top-level protobuf fields as (field number, the field's raw bytes incl. tag, payload or varint)."""
    i, out = 0, []
    while i < len(buf):
        start = i
        tag, i = varint(buf, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, buf[start:i], value))
    return out


def encode_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def length_delimited(number, payload):
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def piece_field(piece, score, kind=NORMAL):
    """ModelProto field 1 holding one SentencePiece {piece, score, type} (type omitted when NORMAL, as
    SentencePiece writes it)."""
    body = length_delimited(1, piece.encode("utf-8")) + encode_varint(2 << 3 | 5) + struct.pack("<f", score)
    if kind != NORMAL:
        body += encode_varint(3 << 3) + encode_varint(kind)
    return length_delimited(1, body)


def pieces(proto):
    """[(piece, score, type, raw field bytes)] in id order."""
    out = []
    for number, raw, payload in fields(proto):
        if number == 1:
            sub = {n: v for n, _, v in fields(payload)}
            score = struct.unpack("<f", sub[2])[0] if 2 in sub else 0.0
            out.append((sub[1].decode("utf-8"), score, sub.get(3, NORMAL), raw))
    return out


def replace_pieces(proto, raw_pieces):
    """The model with its pieces replaced by `raw_pieces` (field bytes, in id order); other fields kept."""
    return b"".join(raw_pieces) + b"".join(raw for number, raw, _ in fields(proto) if number != 1)
