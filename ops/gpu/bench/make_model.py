#!/usr/bin/env python3
"""Builds the benchmark model: a Mistral-shaped MistralForCausalLM with random weights and a word-level
tokenizer, saved as an HF snapshot (config.json, sharded model.safetensors + index, tokenizer.json) that both
HF transformers and dkv's Java scorer load.

The tokenizer maps one word to one token, so a text of N words is exactly N tokens (plus BOS) and the
workload's lengths are exact. Vocabulary: <unk>=0, <s>=1, </s>=2, then the tokens the templates need
("\\n", ":", "?", ".", ",", "Question", "Answer"), then words wN with id N for N in 10..vocab-1. The
pre-tokenizer keeps newlines as tokens, drops other whitespace and isolates punctuation; the
post-processor adds <s> like Llama's. Java reads the same tokenizer.json through DJL's bindings of the
same Rust `tokenizers` library.

Weights: normal(0, --std) for every matrix (embeddings, projections, LM head; --head-std for the LM head),
ones for the RMSNorm weights, drawn directly on the target device in the target dtype from one seeded
generator.

  python make_model.py --out /tmp/dkv-bench/model --shape mistral-7b --device cuda:0      # ~14.5 GB bf16
  python make_model.py --out /tmp/tiny --shape tiny --device cpu --dtype float32           # for tests
"""
import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 (the clock starts before the imports: they are part of where the time goes)
import json  # noqa: E402
import os  # noqa: E402

import torch  # noqa: E402
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors  # noqa: E402
from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast  # noqa: E402

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
TEMPLATE_TOKENS = ["\n", ":", "?", ".", ",", "Question", "Answer"]
FIRST_WORD_ID = len(SPECIAL_TOKENS) + len(TEMPLATE_TOKENS)  # word wN has id N from here on

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
}


def word(i):
    """The vocabulary's word with token id i (i >= FIRST_WORD_ID)."""
    return f"w{i}"


def build_tokenizer(vocab_size):
    if vocab_size <= FIRST_WORD_ID:
        raise ValueError(f"vocab_size {vocab_size} leaves no room for words (first word id {FIRST_WORD_ID})")
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + TEMPLATE_TOKENS)}
    vocab.update({word(i): i for i in range(FIRST_WORD_ID, vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n"), "isolated"),       # each newline is a token
        pre_tokenizers.Split(Regex(r"[^\S\n]+"), "removed"),  # other whitespace only separates words
        pre_tokenizers.Punctuation("isolated"),
    ])
    bos = vocab["<s>"]
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", bos)])
    for special in SPECIAL_TOKENS:
        tok.add_special_tokens([special])
    return tok


def build_config(shape):
    return MistralConfig(**SHAPES[shape], hidden_act="silu", max_position_embeddings=32768, rms_norm_eps=1e-5,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6}, sliding_window=None,
                         tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, initializer_range=0.02)


@torch.no_grad()
def random_model(config, device, dtype, seed, std, head_std):
    with torch.device(device):
        model = MistralForCausalLM._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.to(device)
    g = torch.Generator(device=device).manual_seed(seed)
    for name, p in model.named_parameters():
        if p.ndim == 1:  # RMSNorm weights
            p.fill_(1.0)
        else:
            p.normal_(0.0, head_std if name == "lm_head.weight" else std, generator=g)
    return model.eval()


def save_tokenizer(tok, out):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
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
    p.add_argument("--max-shard-size", default=None,
                   help="shard size of model.safetensors (default 4GB for mistral-7b; 256KB for the small shapes, so they are sharded too)")
    args = p.parse_args()

    timings = {"imports_s": time.perf_counter() - STARTED}
    t0 = time.perf_counter()
    config = build_config(args.shape)
    model = random_model(config, args.device, getattr(torch, args.dtype), args.seed, args.std, args.head_std)
    sync(args.device)
    timings["init_s"] = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())

    t0 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    shard = args.max_shard_size or ("4GB" if args.shape == "mistral-7b" else "256KB")
    model.save_pretrained(args.out, max_shard_size=shard)
    timings["save_weights_s"] = time.perf_counter() - t0
    if not os.path.exists(os.path.join(args.out, "model.safetensors.index.json")):
        raise SystemExit(f"{args.out}: save_pretrained wrote no model.safetensors.index.json (not sharded at {shard})")

    t0 = time.perf_counter()
    save_tokenizer(build_tokenizer(config.vocab_size), args.out)
    timings["save_tokenizer_s"] = time.perf_counter() - t0

    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    info = {"shape": args.shape, "params": params, "dtype": args.dtype, "seed": args.seed, "std": args.std,
            "head_std": args.head_std, "bytes_on_disk": size, "device": str(args.device),
            **{k: round(v, 3) for k, v in timings.items()}}
    with open(os.path.join(args.out, "dkv-bench-model.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
