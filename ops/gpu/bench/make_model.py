#!/usr/bin/env python3
"""Builds the benchmark model: a Mistral-shaped MistralForCausalLM (or a Gemma-3-shaped Gemma3ForCausalLM,
--shape gemma3-4b) with random weights and a word-level tokenizer, saved as an HF snapshot (config.json, sharded
model.safetensors + index, tokenizer.json) that both HF transformers and dkv's Java scorer load.

The tokenizer maps one word to one token, so a text of N words is exactly N tokens (plus BOS) and the
workload's lengths are exact. Vocabulary (Llama style, the Mistral shapes): <unk>=0, <s>=1, </s>=2, then the
tokens the templates need ("\\n", ":", "?", ".", ",", "Question", "Answer"), then words wN with id N for N in
10..vocab-1. Gemma style (the Gemma shapes and make_t5gemma_model.py): <pad>=0, <eos>=1, <bos>=2, <unk>=3, the
same template tokens at 4..10, words wN from 11, and the reserved ids the config names (image tokens) as special
tokens at their ids. The pre-tokenizer keeps newlines as tokens, drops other whitespace and isolates
punctuation; the post-processor adds BOS like Llama's and Gemma's. Java reads the same tokenizer.json through
DJL's bindings of the same Rust `tokenizers` library.

Weights: normal(0, --std) for every matrix (embeddings, projections, LM head; --head-std for the LM head),
drawn directly on the target device in the target dtype from one seeded generator; RMSNorm weights 1 (Llama
style) or, for Gemma's (1 + w) norms, w ~ normal(0, --norm-std) (scale ~1, but not exactly the init value, so a
reader that drops the 1 + shows).

  python make_model.py --out /tmp/dkv-bench/model --shape mistral-7b --device cuda:0      # ~14.5 GB bf16
  python make_model.py --out /tmp/dkv-bench/gemma3-4b --shape gemma3-4b --device cuda:0   # ~7.8 GB bf16
  python make_model.py --out /tmp/tiny --shape tiny --device cpu --dtype float32           # for tests
"""
import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 (the clock starts before the imports: they are part of where the time goes)
import json  # noqa: E402
import os  # noqa: E402

import torch  # noqa: E402
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors  # noqa: E402
from transformers import (Gemma3ForCausalLM, Gemma3TextConfig, MistralConfig, MistralForCausalLM,  # noqa: E402
                          PreTrainedTokenizerFast)

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
GEMMA_SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>"]  # ids 0..3, as Gemma's tokenizer
TEMPLATE_TOKENS = ["\n", ":", "?", ".", ",", "Question", "Answer"]
FIRST_WORD_ID = len(SPECIAL_TOKENS) + len(TEMPLATE_TOKENS)  # word wN has id N from here on
TOKENIZER_STYLES = {
    # specials (in id order from 0), BOS, EOS, UNK, PAD (None: no pad token)
    "llama": dict(specials=SPECIAL_TOKENS, bos="<s>", eos="</s>", unk="<unk>", pad=None),
    "gemma": dict(specials=GEMMA_SPECIAL_TOKENS, bos="<bos>", eos="<eos>", unk="<unk>", pad="<pad>"),
}
# Gemma 3 4B's text model (google/gemma-3-4b-*: text_config), the research's v4 family: every 6th layer full,
# sliding window 1024, full layers theta 1e6 with linear x8 scaling, sliding layers theta 1e4, tied embedding.
GEMMA3_4B = dict(hidden_size=2560, intermediate_size=10240, num_hidden_layers=34, num_attention_heads=8,
                 num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256, sliding_window=1024,
                 vocab_size=262208)

SHAPES = {
    # Mistral-7B-v0.1's shape without its sliding window (the benchmark's contexts are short anyway).
    "mistral-7b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, head_dim=128, vocab_size=32000),
    # Small enough for CPU tests; same structure (GQA 2:1, untied head).
    "tiny": dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, vocab_size=2000),
    # Mistral-7B's depth, vocabulary and GQA ratio with tiny layers: on a CPU its kernels cost next to nothing,
    # so a profile of the scorer on it shows the host-side cost per layer and per condition.
    "host-proxy": dict(hidden_size=128, intermediate_size=256, num_hidden_layers=32, num_attention_heads=8,
                       num_key_value_heads=2, head_dim=16, vocab_size=32000),
    "gemma3-4b": GEMMA3_4B,
    # Gemma 3's structure at CPU size: heads x head_dim != hidden, qpas != head_dim, mixed layer types (a window
    # longer than the workload's texts, as 1024 is on the real shape).
    "gemma3-tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=24, query_pre_attn_scalar=20, sliding_window=512,
                        vocab_size=2000, layer_types=["sliding_attention", "full_attention", "sliding_attention"]),
}
GEMMA_SHAPES = {"gemma3-4b", "gemma3-tiny"}


def word(i):
    """The vocabulary's word with token id i (i >= FIRST_WORD_ID)."""
    return f"w{i}"


def build_tokenizer(vocab_size, style="llama", reserved=None):
    """The word-level tokenizer. `reserved` maps ids to special tokens placed at those ids (Gemma's image tokens);
    no word takes them."""
    spec = TOKENIZER_STYLES[style]
    fixed = spec["specials"] + TEMPLATE_TOKENS
    if vocab_size <= len(fixed):
        raise ValueError(f"vocab_size {vocab_size} leaves no room for words (first word id {len(fixed)})")
    reserved = dict(reserved or {})
    for i, t in reserved.items():
        if not len(fixed) <= i < vocab_size:
            raise ValueError(f"reserved token {t} at id {i}: outside the word ids {len(fixed)}..{vocab_size - 1}")
    vocab = {t: i for i, t in enumerate(fixed)}
    vocab.update({(reserved[i] if i in reserved else word(i)): i for i in range(len(fixed), vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token=spec["unk"]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n"), "isolated"),       # each newline is a token
        pre_tokenizers.Split(Regex(r"[^\S\n]+"), "removed"),  # other whitespace only separates words
        pre_tokenizers.Punctuation("isolated"),
    ])
    bos = spec["bos"]
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                       special_tokens=[(bos, vocab[bos])])
    for special in spec["specials"] + [reserved[i] for i in sorted(reserved)]:
        tok.add_special_tokens([special])
    return tok


def build_config(shape):
    if shape in GEMMA_SHAPES:
        return Gemma3TextConfig(**SHAPES[shape], hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                                max_position_embeddings=131072, rope_parameters={
                                    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                    "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6}},
                                attn_logit_softcapping=None, final_logit_softcapping=None, tie_word_embeddings=True,
                                pad_token_id=0, eos_token_id=1, bos_token_id=2, initializer_range=0.02)
    return MistralConfig(**SHAPES[shape], hidden_act="silu", max_position_embeddings=32768, rms_norm_eps=1e-5,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6}, sliding_window=None,
                         tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, initializer_range=0.02)


def tokenizer_style(shape):
    return "gemma" if shape in GEMMA_SHAPES else "llama"


@torch.no_grad()
def randomize(model, device, seed, std, head_std, norm_std, one_centered_norms, skip=()):
    """Every parameter from one seeded generator on `device`: matrices normal(0, std) (the LM head head_std),
    norm weights 1 (Llama RMSNorm) or normal(0, norm_std) (Gemma's (1 + w) norms, one_centered_norms).
    Tied parameters come once (named_parameters deduplicates them); names containing a `skip` part keep HF's
    init."""
    g = torch.Generator(device=device).manual_seed(seed)
    for name, p in model.named_parameters():
        if any(part in name for part in skip):
            continue
        if p.ndim == 1 and name.endswith("norm.weight"):
            if one_centered_norms:
                p.normal_(0.0, norm_std, generator=g)
            else:
                p.fill_(1.0)
        else:
            p.normal_(0.0, head_std if name in ("lm_head.weight", "lm_head.out_proj.weight") else std, generator=g)


@torch.no_grad()
def random_model(config, device, dtype, seed, std, head_std, norm_std=0.05):
    gemma = isinstance(config, Gemma3TextConfig)
    cls = Gemma3ForCausalLM if gemma else MistralForCausalLM
    with torch.device(device):
        model = cls._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.to(device)
    randomize(model, device, seed, std, head_std, norm_std, one_centered_norms=gemma)
    return model.eval()


def save_tokenizer(tok, out, style="llama"):
    spec = TOKENIZER_STYLES[style]
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=spec["bos"], eos_token=spec["eos"],
                                   unk_token=spec["unk"], **({"pad_token": spec["pad"]} if spec["pad"] else {}))
    fast.save_pretrained(out)
    # save_pretrained may rewrite tokenizer.json; keep exactly the tokenizer built here
    tok.save(os.path.join(out, "tokenizer.json"))


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--shape", choices=sorted(SHAPES), default="mistral-7b")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["bfloat16", "float32", "float16"], default="bfloat16")
    p.add_argument("--std", type=float, default=0.02)
    p.add_argument("--head-std", type=float, default=0.02)
    p.add_argument("--norm-std", type=float, default=0.05, help="Gemma shapes: w of the (1 + w) norms")
    p.add_argument("--max-shard-size", default=None,
                   help="shard size of model.safetensors (default 4GB for the real shapes; 256KB for the small "
                        "shapes, so they are sharded too)")
    args = p.parse_args()

    timings = {"imports_s": time.perf_counter() - STARTED}
    t0 = time.perf_counter()
    config = build_config(args.shape)
    model = random_model(config, args.device, getattr(torch, args.dtype), args.seed, args.std, args.head_std,
                         args.norm_std)
    sync(args.device)
    timings["init_s"] = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())

    t0 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    shard = args.max_shard_size or ("4GB" if params > 1e9 else "256KB")
    model.save_pretrained(args.out, max_shard_size=shard)
    timings["save_weights_s"] = time.perf_counter() - t0
    if not os.path.exists(os.path.join(args.out, "model.safetensors.index.json")):
        raise SystemExit(f"{args.out}: save_pretrained wrote no model.safetensors.index.json (not sharded at {shard})")

    t0 = time.perf_counter()
    style = tokenizer_style(args.shape)
    save_tokenizer(build_tokenizer(config.vocab_size, style), args.out, style)
    timings["save_tokenizer_s"] = time.perf_counter() - t0

    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    info = {"shape": args.shape, "architecture": type(model).__name__, "params": params, "dtype": args.dtype,
            "seed": args.seed, "std": args.std, "head_std": args.head_std,
            **({"norm_std": args.norm_std} if style == "gemma" else {}),
            "bytes_on_disk": size, "device": str(args.device),
            **{k: round(v, 3) for k, v in timings.items()}}
    with open(os.path.join(args.out, "dkv-bench-model.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
