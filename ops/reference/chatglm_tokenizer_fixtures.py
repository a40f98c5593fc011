#!/usr/bin/env python3
"""A tiny ChatGLM-6B-like tokenizer and the ids ChatGLM's published tokenizer code gives for a test corpus.

ChatGLM-6B's ice_text.model is a SentencePiece unigram model (nmt_nfkc) of 130000 pieces, to which its icetk
builder appended, in this order: 8 special tokens ([MASK] [gMASK] [sMASK] <unused_0> <sop> <eop> <ENC> <dBLOCK>,
ids 130000..130007), <|tab|> (130008), <|blank_2|>..<|blank_80|> (130009..130087) and the 256 byte pieces
<0x00>..<0xFF> (130088..130343), with trainer_spec.byte_fallback set. (chatglm.cpp's tests confirm the layout:
"\\t" -> 130008, four spaces -> 130011, the bytes of an emoji -> 130088 + byte.) This script trains a small base
model with sentencepiece's trainer (<n> a user-defined symbol, as id 4 like ChatGLM's) and appends the same pieces
the same way, editing the ModelProto at the protobuf wire level (no protobuf package needed). Types: <n>, the tab
and blank tokens and [MASK] [gMASK] [sMASK] <sop> <eop> are USER_DEFINED; <unused_0> <ENC> <dBLOCK> CONTROL, so
both kinds of special piece are exercised.

The reference tokenizer is ChatGLM's published tokenization_chatglm.py (SPTokenizer + ChatGLMTokenizer),
re-implemented here with the Python sentencepiece package: newline -> <n>, tab -> <|tab|>, runs of 2..80 spaces
-> <|blank_N|> (longest first), sp.EncodeAsIds with the dummy prefix, ids + num_image_tokens, and
build_inputs_with_special_tokens appending [gMASK] <sop>. decode is SPTokenizer.decode (ids below the offset
dropped, sp decode, then the inverse replacements).

Writes scorers/src/test/resources/fixtures/chatglm-tokenizer/{current,shifted}/ (ice_text.model,
tokenizer_config.json, config.json) and expected.json (offset 0; the "shifted" snapshot is the 150528-vocab
revision's convention: no num_image_tokens in tokenizer_config.json, config.json ids + 20000).

Run:  /opt/refvenv/bin/python ops/reference/chatglm_tokenizer_fixtures.py [--out scorers/src/test/resources/fixtures/chatglm-tokenizer]
"""
import argparse
import io
import json
import os
import random
import shutil
import struct

import sentencepiece as spm

SEED = 20261202
BASE_VOCAB = 500
SPECIALS = ["[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>", "<ENC>", "<dBLOCK>"]
CONTROL_SPECIALS = {"<unused_0>", "<ENC>", "<dBLOCK>"}
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
MAX_BLANK = 80

ENGLISH = """The quick brown fox jumps over the lazy dog. Water boils at one hundred degrees Celsius at sea level.
Charles Darwin published On the Origin of Species in 1859, and the theory of natural selection followed.
A soft boiled egg takes about six minutes, while a hard boiled egg needs ten to twelve minutes.
def main(): print('hello world') # a greeting for the reader, return 0 if everything went well
Search engines rank documents by relevance; the query and the passage share many keywords.
Question: what is the capital of France? Answer: Paris is the capital and largest city of France."""

CHINESE = """你好，我是人工智能助手。很高兴见到你，欢迎问我任何问题。
水在海平面上的沸点是一百摄氏度。在高海拔地区，气压较低，所以水的沸点也较低。
查尔斯·达尔文在一八五九年出版了《物种起源》，提出了自然选择的理论。
煮一个溏心蛋大约需要六分钟，煮一个全熟的蛋需要十到十二分钟。
搜索引擎根据相关性对文档进行排序，查询和段落共享许多关键词。
问：法国的首都是哪里？答：巴黎是法国的首都和最大的城市。今天天气很好，我们去公园散步吧。"""

# What the Java tokenizer must match: Chinese, English, runs of spaces (below, at and past 80), tabs, newlines,
# characters outside the tiny vocabulary (byte fallback), NFKC-normalised forms, and literal special-token text.
CORPUS = [
    "",
    "你好",
    "hello",
    "Hello world",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "a  b   c    d",
    "x" + " " * 79 + "y" + " " * 80 + "z" + " " * 81 + "w" + " " * 165 + "v",
    " " * 7,
    "tab\tseparated\t\tvalues",
    "line one\nline two\n\nline four\n",
    "\n starts with a newline",
    "windows\r\nline end",
    "def main():\n    print('hello world')\t# greeting",
    "[Round 0]\n问：你好\n答：你好👋！我是人工智能助手 ChatGLM-6B，很高兴见到你，欢迎问我任何问题。\n[Round 1]\n问：",
    "水的沸点是100°C吗？",
    "emoji 😀🎉 and rare 龘 and 𠜎 characters",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ① ﬁ ligature",
    "ideographic\u3000space and no\u00a0break space",
    "zero\u200bwidth and e\u0301 combining",
    "literal <n> and <|tab|> and <|blank_3|> markers",
    "[gMASK] and <sop> in text, also <eop> [MASK] [sMASK] <ENC> <dBLOCK>",
    "Ünïcödé Ελληνικά русский العربية हिन्दी",
    "Question: what is the boiling point of water?\n\nAnswer: 100 degrees Celsius",
    "\u0000nul and \u0007bell controls",
    "1234567890 3.14159 -42 1e9",
]


# Id sequences decode must handle beyond what encoding produces: the unknown piece, malformed and split byte runs,
# control pieces before the first visible one, the bytes of ▁ (kept raw), specials, an image-token id (shifted only).
DECODE_PIECES = [
    ["<unk>", "▁a", "<unk>"],
    ["<0xF0>", "<0x9F>", "▁a", "<0x98>", "<0x80>"],
    ["<ENC>", "▁a", "<dBLOCK>", "▁a"],
    ["<0xE2>", "<0x96>", "<0x81>", "▁a", "<0xFF>", "<0xC0>", "<0x80>", "<0xED>", "<0xA0>", "<0x80>"],
    ["▁", "[gMASK]", "<sop>", "▁a", "<eop>", "<n>", "<|blank_3|>", "<|tab|>", "▁"],
]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fields(buf):
    """Top-level (field number, wire type, raw bytes of the whole field) of a protobuf message."""
    pos, out = 0, []
    while pos < len(buf):
        start = pos
        key, shift = 0, 0
        while True:
            b = buf[pos]; pos += 1
            key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        number, wire = key >> 3, key & 7
        if wire == 0:
            while buf[pos] & 0x80:
                pos += 1
            pos += 1
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, shift = 0, 0
            while True:
                b = buf[pos]; pos += 1
                length |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError("wire type %d" % wire)
        out.append((number, wire, buf[start:pos]))
    return out


def piece(text, score, kind):
    """ModelProto.SentencePiece {1: piece, 2: score, 3: type} as field 1 of ModelProto."""
    raw = text.encode("utf-8")
    body = b"\x0a" + varint(len(raw)) + raw + b"\x15" + struct.pack("<f", score) + b"\x18" + varint(kind)
    return b"\x0a" + varint(len(body)) + body


def payload(field_bytes):
    """The payload of a length-delimited field (tag and length stripped)."""
    pos = 1
    while field_bytes[pos] & 0x80:
        pos += 1
    return field_bytes[pos + 1:]


def chatglm_like(base_proto):
    """Appends ChatGLM's pieces after the base vocabulary and sets trainer_spec.byte_fallback, as icetk did."""
    extra = b"".join(piece(t, 0.0, CONTROL if t in CONTROL_SPECIALS else USER_DEFINED) for t in SPECIALS)
    extra += piece("<|tab|>", 0.0, USER_DEFINED)
    extra += b"".join(piece("<|blank_%d|>" % i, 0.0, USER_DEFINED) for i in range(2, MAX_BLANK + 1))
    extra += b"".join(piece("<0x%02X>" % i, 0.0, BYTE) for i in range(256))
    out, pieces_done = bytearray(), False
    for number, wire, raw in fields(base_proto):
        if number != 1 and not pieces_done:
            out += extra
            pieces_done = True
        if number == 2:  # trainer_spec: drop input (1) and model_prefix (2), paths of this run; add byte_fallback (35)
            body = b"".join(f for n, _, f in fields(payload(raw)) if n not in (1, 2)) + varint(35 << 3) + b"\x01"
            raw = b"\x12" + varint(len(body)) + body
        out += raw
    return bytes(out)


def train(workdir):
    # the texts, then sentences recombined from their words and Chinese phrases, enough for BASE_VOCAB pieces
    rng = random.Random(SEED)
    lines = ENGLISH.splitlines() + CHINESE.splitlines()
    words = ENGLISH.split()
    phrases = [p for line in CHINESE.splitlines() for p in line.replace("，", "。").split("。") if p]
    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines * 20) + "\n")
        for _ in range(4000):
            f.write(" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + "\n")
            f.write("，".join(rng.choice(phrases)[: rng.randint(2, 12)] for _ in range(rng.randint(1, 4))) + "。\n")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        input=corpus, model_writer=buf, model_type="unigram", vocab_size=BASE_VOCAB, hard_vocab_limit=False,
        character_coverage=0.9995, normalization_rule_name="nmt_nfkc", add_dummy_prefix=True,
        remove_extra_whitespaces=True, byte_fallback=False, unk_id=0, bos_id=1, eos_id=2, pad_id=3,
        user_defined_symbols=["<n>"], num_threads=1, seed_sentencepiece_size=20000, minloglevel=2)
    return buf.getvalue()


class ChatGLMReference:
    """tokenization_chatglm.py's SPTokenizer/ChatGLMTokenizer behaviour, over the sentencepiece package."""

    def __init__(self, proto, num_image_tokens):
        self.sp = spm.SentencePieceProcessor(model_proto=proto)
        self.offset = num_image_tokens

    @staticmethod
    def preprocess(text):
        text = text.replace("\n", "<n>")
        text = text.replace("\t", "<|tab|>")
        for i in range(MAX_BLANK, 1, -1):
            text = text.replace(" " * i, "<|blank_%d|>" % i)
        return text

    def token_id(self, piece):
        i = self.sp.PieceToId(piece)
        assert self.sp.IdToPiece(i) == piece, piece
        return i + self.offset

    def encode(self, text):
        return [i + self.offset for i in self.sp.EncodeAsIds(self.preprocess(text))]

    def pieces(self, text):
        return self.sp.EncodeAsPieces(self.preprocess(text))

    def encode_prompt(self, text):
        return self.encode(text) + [self.token_id("[gMASK]"), self.token_id("<sop>")]

    def decode(self, ids):
        text = self.sp.DecodeIds([i - self.offset for i in ids if i - self.offset >= 0])
        text = text.replace("<n>", "\n").replace("<|tab|>", "\t")
        for i in range(2, MAX_BLANK + 1):
            text = text.replace("<|blank_%d|>" % i, " " * i)
        return text


def write_snapshot(out, proto, shift, size):
    os.makedirs(out)
    with open(os.path.join(out, "ice_text.model"), "wb") as f:
        f.write(proto)
    tok = {"name_or_path": "dkv/tiny-chatglm", "bos_token": "<sop>", "eop_token": "<eop>", "eos_token": "<eop>",
           "end_token": "</s>", "gmask_token": "[gMASK]", "mask_token": "[MASK]", "pad_token": "<pad>",
           "unk_token": "<unk>", "remove_space": False, "do_lower_case": False, "tokenizer_class": "ChatGLMTokenizer"}
    if shift == 0:
        tok["num_image_tokens"] = 0  # the current (130528) revision states it; the 150528 one relied on the default
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tok, f, indent=2)
    specials = BASE_VOCAB
    config = {"architectures": ["ChatGLMModel"], "model_type": "chatglm", "vocab_size": shift + size + 184,
              "mask_token_id": shift + specials, "gmask_token_id": shift + specials + 1,
              "bos_token_id": shift + specials + 4, "eos_token_id": shift + specials + 5, "pad_token_id": shift + 3}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="scorers/src/test/resources/fixtures/chatglm-tokenizer")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    base = train(args.out)
    os.remove(os.path.join(args.out, "corpus.txt"))
    base_size = spm.SentencePieceProcessor(model_proto=base).GetPieceSize()
    assert base_size == BASE_VOCAB, base_size
    proto = chatglm_like(base)
    ref = ChatGLMReference(proto, 0)
    sp = ref.sp
    assert sp.GetPieceSize() == BASE_VOCAB + 8 + 1 + 79 + 256
    assert sp.PieceToId("<n>") == 4 and sp.PieceToId("[gMASK]") == BASE_VOCAB + 1
    assert sp.PieceToId("<|tab|>") == BASE_VOCAB + 8 and sp.PieceToId("<0x00>") == BASE_VOCAB + 88
    write_snapshot(os.path.join(args.out, "current"), proto, 0, sp.GetPieceSize())
    write_snapshot(os.path.join(args.out, "shifted"), proto, 20000, sp.GetPieceSize())

    cases, fallbacks = [], 0
    for text in CORPUS:
        ids = ref.encode(text)
        fallbacks += sum(1 for i in ids if sp.IsByte(i))
        cases.append({"text": text, "preprocessed": ref.preprocess(text), "pieces": ref.pieces(text),
                      "continuation": ids, "prompt": ref.encode_prompt(text), "decoded": ref.decode(ids)})
    assert fallbacks > 0, "the corpus must exercise byte fallback"
    decode_cases = []
    for names in DECODE_PIECES:
        ids = [sp.PieceToId(n) for n in names]
        assert [sp.IdToPiece(i) for i in ids] == names, names
        decode_cases.append({"pieces": names, "ids": ids, "decoded": ref.decode(ids)})
    expected = {"num_image_tokens": 0, "gmask": ref.token_id("[gMASK]"), "sop": ref.token_id("<sop>"),
                "eop": ref.token_id("<eop>"), "mask": ref.token_id("[MASK]"), "piece_count": sp.GetPieceSize(),
                "sentencepiece_version": spm.__version__, "cases": cases, "decode_cases": decode_cases}
    with open(os.path.join(args.out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print("wrote", args.out, "pieces", sp.GetPieceSize(), "byte-fallback ids", fallbacks)


if __name__ == "__main__":
    main()
