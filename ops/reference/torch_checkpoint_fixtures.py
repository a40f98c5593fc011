#!/usr/bin/env python3
"""Fixtures for the Java PyTorch checkpoint reader (dkv.scorers.model.checkpoint), written by real torch.save.

Writes, under scorers/src/test/resources/fixtures/torch-bin/:
  single/   pytorch_model.bin: an nn.Module state dict (with its _metadata) plus fp16, fp32, bf16 tensors, a tied
            pair (one tensor under two names), two views over one storage at different offsets, an nn.Parameter,
            a 0-d scalar, an empty tensor and fp16 special values (inf, -0, subnormal, NaN)
  sharded/  two shards + pytorch_model.bin.index.json whose total_size is deliberately wrong (as ChatGLM-6B's is)
  hostile/  checkpoints a safe reader must refuse; the os.system one is proven live here (torch.load with
            weights_only=False runs it and creates MARKER, which this script then removes)
and expected.json beside each good checkpoint: per tensor dtype (safetensors spelling), shape, storage key and
offset, parameter flag, the raw little-endian bytes as hex and (for finite tensors) the values as float.

Run:  /opt/refvenv/bin/python ops/reference/torch_checkpoint_fixtures.py [--out scorers/src/test/resources/fixtures/torch-bin]
"""
import argparse
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import torch

SEED = 20261202
MARKER = "/tmp/dkv-checkpoint-payload-ran"  # the Java test asserts this file is never created
DTYPES = {torch.float16: "F16", torch.float32: "F32", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64"}


class Block(torch.nn.Module):
    """A small module so the state dict is a real one, with the _metadata torch attaches."""

    def __init__(self):
        super().__init__()
        self.dense = torch.nn.Linear(4, 6)
        self.ln = torch.nn.LayerNorm(6)


def single_state_dict():
    g = torch.Generator().manual_seed(SEED)
    block = Block()
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    block.dense.half()  # fp16 matrices, fp32 LayerNorm, as in ChatGLM-6B's checkpoint
    sd = block.state_dict()
    emb = torch.randn(8, 4, generator=g).half()
    sd["word_embeddings.weight"] = emb
    sd["lm_head.weight"] = emb  # tied: one storage, same offset, two names
    sd["bf16.weight"] = torch.randn(3, 5, generator=g).bfloat16()
    base = torch.randn(16, generator=g).half()
    sd["shared.a"] = base[2:8].view(2, 3)  # storage offset 2
    sd["shared.b"] = base[10:16].view(3, 2)  # same storage, offset 10
    sd["param"] = torch.nn.Parameter(torch.randn(2, 3, generator=g))
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3, dtype=torch.float16)
    sd["specials"] = torch.tensor([float("inf"), -0.0, 5.96e-8, 65504.0, float("nan"), -float("inf")],
                                  dtype=torch.float16)
    return sd


def sharded_state_dicts():
    g = torch.Generator().manual_seed(SEED + 1)
    first = {"layers.0.weight": torch.randn(4, 4, generator=g).half(),
             "layers.0.ln.weight": torch.randn(4, generator=g)}
    second = {"layers.1.weight": torch.randn(4, 4, generator=g).half(),
              "layers.1.ln.weight": torch.randn(4, generator=g),
              "final.bias": torch.randn(4, generator=g).bfloat16()}
    return first, second


def describe(sd):
    out = {}
    for name, t in sd.items():
        t = t.detach()
        flat = t.reshape(-1).contiguous()
        entry = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                 "storage_offset": t.storage_offset(),
                 "parameter": isinstance(sd[name], torch.nn.Parameter),
                 "hex": flat.view(torch.uint8).numpy().tobytes().hex()}
        if torch.isfinite(flat.float()).all():
            entry["values"] = [float(v) for v in flat.float().tolist()]
        out[name] = entry
    return out


def check_roundtrip(path, sd):
    """torch's own loader (the safe one) reads back exactly what was saved."""
    loaded = torch.load(path, weights_only=True)
    assert list(loaded) == list(sd), path
    for k, v in sd.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k].reshape(-1).view(torch.uint8),
                                                          v.detach().reshape(-1).view(torch.uint8)), k


class SystemPayload:
    def __reduce__(self):
        return os.system, ("touch " + MARKER,)


class EvalPayload:
    def __reduce__(self):
        return eval, ("__import__('os').system('touch " + MARKER + "')",)


class Sneaky:
    def __reduce__(self):
        return Sneaky, ()


def zip_records(path, prefix, records, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in records.items():
            z.writestr(prefix + name, data)


def rewrite_as_zip64(src, dst):
    """The same records with ZIP64 headers everywhere (as torch writes them past 4 GiB): zipfile's limits set to 0."""
    with zipfile.ZipFile(src) as z:
        records = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    limits = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as z:
            for name, data in records:
                with z.open(name, "w", force_zip64=True) as f:
                    f.write(data)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limits
    with open(dst, "rb") as f:
        raw = f.read()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw, "no ZIP64 end records"


def write_hostile(out, single_path):
    os.makedirs(out, exist_ok=True)
    ones = torch.ones(2, dtype=torch.float16)
    torch.save({"w": ones, "x": SystemPayload()}, os.path.join(out, "os_system.bin"))
    torch.save({"w": ones, "x": EvalPayload()}, os.path.join(out, "builtins_eval.bin"))
    torch.save({"w": ones, "x": Sneaky()}, os.path.join(out, "unknown_global.bin"))
    # INST (protocol 0) names a class and calls it in one opcode: never part of a state dict
    inst = b"\x80\x02}q\x00(X\x01\x00\x00\x00xi" + b"os\nsystem\n" + b"u."
    zip_records(os.path.join(out, "unknown_opcode.bin"), "archive/",
                {"data.pkl": inst, "byteorder": b"little", "version": b"3\n"})
    with open(single_path, "rb") as f:
        whole = f.read()
    with open(os.path.join(out, "truncated_zip.bin"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    pkl = io.BytesIO()
    torch.save({"w": ones}, pkl)
    with zipfile.ZipFile(pkl) as z:
        records = {n.split("/", 1)[1]: z.read(n) for n in z.namelist()}
    good_pickle = records["data.pkl"]
    zip_records(os.path.join(out, "truncated_pickle.bin"), "archive/",
                {**records, "data.pkl": good_pickle[:-12]})
    zip_records(os.path.join(out, "compressed.bin"), "archive/", records, zipfile.ZIP_DEFLATED)
    torch.save({"t": torch.arange(6.0).view(2, 3).t()}, os.path.join(out, "noncontiguous.bin"))
    # the os.system payload is live: Python's unrestricted unpickler runs it
    if os.path.exists(MARKER):
        os.remove(MARKER)
    subprocess.run([sys.executable, "-c", "import torch, sys; torch.load(sys.argv[1], weights_only=False)",
                    os.path.join(out, "os_system.bin")], check=False, capture_output=True)
    assert os.path.exists(MARKER), "the os.system payload did not run under torch.load(weights_only=False)"
    os.remove(MARKER)
    for name in ("os_system.bin", "builtins_eval.bin", "unknown_global.bin"):
        try:
            torch.load(os.path.join(out, name), weights_only=True)
            raise AssertionError(name + " loaded under weights_only=True")
        except pickle.UnpicklingError:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="scorers/src/test/resources/fixtures/torch-bin")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)

    single = os.path.join(args.out, "single")
    os.makedirs(single)
    sd = single_state_dict()
    path = os.path.join(single, "pytorch_model.bin")
    torch.save(sd, path)
    check_roundtrip(path, sd)
    with open(os.path.join(single, "expected.json"), "w") as f:
        json.dump(describe(sd), f, indent=1)

    sharded = os.path.join(args.out, "sharded")
    os.makedirs(sharded)
    shards = sharded_state_dicts()
    weight_map, expected = {}, {}
    for i, part in enumerate(shards, start=1):
        name = f"pytorch_model-{i:05d}-of-{len(shards):05d}.bin"
        torch.save(part, os.path.join(sharded, name))
        check_roundtrip(os.path.join(sharded, name), part)
        weight_map.update({k: name for k in part})
        expected.update(describe(part))
    with open(os.path.join(sharded, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 1}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(sharded, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)

    zip64 = os.path.join(args.out, "zip64")
    os.makedirs(zip64)
    part = sharded_state_dicts()[1]
    torch.save(part, os.path.join(zip64, "plain.bin"))
    rewrite_as_zip64(os.path.join(zip64, "plain.bin"), os.path.join(zip64, "pytorch_model.bin"))
    os.remove(os.path.join(zip64, "plain.bin"))
    check_roundtrip(os.path.join(zip64, "pytorch_model.bin"), part)
    with open(os.path.join(zip64, "expected.json"), "w") as f:
        json.dump(describe(part), f, indent=1)

    write_hostile(os.path.join(args.out, "hostile"), path)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
