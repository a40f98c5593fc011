#!/usr/bin/env python3
"""Builds the encoder-decoder benchmark model: a T5Gemma-2-4B-4B-shaped T5Gemma2ForConditionalGeneration with
random weights and a word-level Gemma-style tokenizer, saved as an HF snapshot (config.json, sharded
model.safetensors + index, tokenizer.json) that HF transformers and dkv's Java scorer (family t5gemma2) load.

Shape (--shape t5gemma-2-4b-4b). google/t5gemma-2-4b-4b is adapted from Gemma 3 4B (T5Gemma 2 paper,
arXiv 2512.14856), so each stack has Gemma 3 4B's text shape: hidden 2560, MLP 10240, 34 layers (every 6th full
attention), 8 heads x 256 (query_pre_attn_scalar 256), 4 KV heads, sliding window 1024, full layers theta 1e6
with linear x8 scaling, sliding layers theta 1e4, no softcapping. Vocabulary and special ids are T5Gemma 2's
(ops/reference/T5GEMMA2-FACTS.md, from the 270m config): vocab 262144, pad 0, eos 1, bos 2, boi 255999,
eoi 256000, image 256001; tied embeddings (decoder embedding and LM head are the encoder's). The hub config is
gated and was not read: every number above is from Gemma 3 4B's public config and FACTS. Encoder + decoder
text: 2 x 3.21e9 layer parameters + 0.67e9 embedding = 7.09e9 (14.2 GB bf16). The encoder config class requires
a vision tower: a tiny SigLIP (as t5gemma2_fixtures.py; --vision real gives SigLIP-400M's shape, +0.42e9
params), present in the checkpoint and ignored for text by HF and dkv alike.

Tokenizer (make_model.py's word-level tokenizer, Gemma style): <pad>=0, <eos>=1, <bos>=2, <unk>=3, "\\n" ":" "?"
"." "," "Question" "Answer" at 4..10, words wN with id N from 11, and <start_of_image>, <end_of_image>,
<image_soft_token> at the config's boi/eoi/image ids (no word takes them). BOS is added by the post-processor;
the decoder stream starts with it (T5Gemma 2's decoder start token is BOS).

Weights: one seeded generator on the target device, target dtype: matrices (the embedding included)
normal(0, --std); Gemma's (1 + w) norms w ~ normal(0, --norm-std) (scale ~1: the embedding rows are ~unit RMS
after the sqrt(hidden) scale, every sandwich norm brings its sublayer back to ~unit RMS, so 34 + 34 layers stay
finite in bf16); eoi_embedding normal(0, --std); the vision tower keeps HF's init.

  python make_t5gemma_model.py --out /tmp/dkv-bench/t5gemma-2-4b-4b --shape t5gemma-2-4b-4b --device cuda:0
  python make_t5gemma_model.py --out /tmp/t5tiny --shape tiny --device cpu --dtype float32    # for tests
"""
import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 (the clock starts before the imports: they are part of where the time goes)
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402
from transformers import T5Gemma2Config, T5Gemma2ForConditionalGeneration  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model import GEMMA3_4B, build_tokenizer, randomize, save_tokenizer, sync  # noqa: E402

ROPE = {"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6}}
TINY_VISION = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=8,
                   patch_size=4, vision_use_head=False)
REAL_VISION = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                   image_size=896, patch_size=14, vision_use_head=False)  # SigLIP-400M as in Gemma 3 4B

SHAPES = {
    "t5gemma-2-4b-4b": dict(
        text={k: v for k, v in GEMMA3_4B.items() if k != "vocab_size"}, vocab_size=262144,
        boi=255999, eoi=256000, image=256001, mm_tokens_per_image=256),
    # the same structure at CPU size: heads x head_dim != hidden, qpas != head_dim, GQA, mixed layer types in both
    # stacks (windows longer than the workload's texts, as 1024 is on the real shape), image ids inside the vocab
    "tiny": dict(
        text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=24, query_pre_attn_scalar=20, sliding_window=512,
                  layer_types=["sliding_attention", "full_attention", "sliding_attention"]),
        vocab_size=2000, boi=1997, eoi=1998, image=1999, mm_tokens_per_image=4),
}


def build_config(shape, vision="tiny"):
    s = SHAPES[shape]
    text = dict(s["text"], vocab_size=s["vocab_size"], hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                max_position_embeddings=131072, rope_parameters=ROPE, attn_logit_softcapping=None,
                final_logit_softcapping=None, tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
                bos_token_id=2, initializer_range=0.02)
    vision_config = REAL_VISION if vision == "real" else TINY_VISION
    mm_tokens = s["mm_tokens_per_image"] if vision == "real" else 4
    return T5Gemma2Config(
        encoder=dict(text_config=dict(text), vision_config=dict(vision_config), mm_tokens_per_image=mm_tokens,
                     boi_token_index=s["boi"], eoi_token_index=s["eoi"], image_token_index=s["image"]),
        decoder=dict(text), image_token_index=s["image"], tie_word_embeddings=True)


def reserved_tokens(config):
    enc = config.encoder
    return {enc.boi_token_index: "<start_of_image>", enc.eoi_token_index: "<end_of_image>",
            config.image_token_index: "<image_soft_token>"}


def param_counts(model):
    """Parameters by part; tied tensors once."""
    counts = {"encoder_layers": 0, "decoder_layers": 0, "embedding": 0, "vision": 0, "other": 0}
    for name, p in model.named_parameters():
        if ".vision_tower." in name or ".multi_modal_projector." in name:
            counts["vision"] += p.numel()
        elif "embed_tokens" in name:
            counts["embedding"] += p.numel()
        elif name.startswith("model.encoder."):
            counts["encoder_layers"] += p.numel()
        elif name.startswith("model.decoder."):
            counts["decoder_layers"] += p.numel()
        else:
            counts["other"] += p.numel()
    counts["text"] = counts["encoder_layers"] + counts["decoder_layers"] + counts["embedding"] + counts["other"]
    counts["total"] = counts["text"] + counts["vision"]
    return counts


@torch.no_grad()
def random_model(config, device, dtype, seed, std, norm_std):
    with torch.device(device):
        model = T5Gemma2ForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.to(device)
    randomize(model, device, seed, std, std, norm_std, one_centered_norms=True,
              skip=(".vision_tower.", ".multi_modal_projector."))
    emb = model.model.encoder.text_model.embed_tokens
    if model.model.decoder.embed_tokens.weight is not emb.weight or model.lm_head.out_proj.weight is not emb.weight:
        raise SystemExit("T5Gemma2ForConditionalGeneration: decoder embedding / LM head not tied to the encoder's")
    return model.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--shape", choices=sorted(SHAPES), default="t5gemma-2-4b-4b")
    p.add_argument("--vision", choices=["tiny", "real"], default="tiny",
                   help="vision tower: tiny SigLIP (default) or SigLIP-400M's shape; ignored for text either way")
    p.add_argument("--seed", type=int, default=20261205)
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["bfloat16", "float32", "float16"], default="bfloat16")
    p.add_argument("--std", type=float, default=0.02)
    p.add_argument("--norm-std", type=float, default=0.05, help="w of the (1 + w) norms")
    p.add_argument("--max-shard-size", default=None, help="default 4GB (real shape), 256KB (tiny: sharded too)")
    args = p.parse_args()

    timings = {"imports_s": time.perf_counter() - STARTED}
    t0 = time.perf_counter()
    config = build_config(args.shape, args.vision)
    model = random_model(config, args.device, getattr(torch, args.dtype), args.seed, args.std, args.norm_std)
    sync(args.device)
    timings["init_s"] = time.perf_counter() - t0
    counts = param_counts(model)

    t0 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    shard = args.max_shard_size or ("4GB" if counts["total"] > 1e9 else "256KB")
    model.save_pretrained(args.out, max_shard_size=shard)
    timings["save_weights_s"] = time.perf_counter() - t0
    if not os.path.exists(os.path.join(args.out, "model.safetensors.index.json")):
        raise SystemExit(f"{args.out}: save_pretrained wrote no model.safetensors.index.json (not sharded at {shard})")

    t0 = time.perf_counter()
    tok = build_tokenizer(config.decoder.vocab_size, "gemma", reserved_tokens(config))
    save_tokenizer(tok, args.out, "gemma")
    timings["save_tokenizer_s"] = time.perf_counter() - t0

    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    info = {"shape": args.shape, "architecture": type(model).__name__, "vision": args.vision,
            "params": counts["text"], "param_counts": counts, "dtype": args.dtype, "seed": args.seed,
            "std": args.std, "norm_std": args.norm_std, "bytes_on_disk": size, "device": str(args.device),
            **{k: round(v, 3) for k, v in timings.items()}}
    with open(os.path.join(args.out, "dkv-bench-model.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
