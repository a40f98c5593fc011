#!/usr/bin/env python3
"""Builds a ChatGLM-6B-shaped snapshot with seeded random weights, saved as users download THUDM/chatglm-6b:
config.json, tokenizer_config.json, ice_text.model, pytorch_model-0000K-of-0000N.bin shards (torch.save;
fp16/bf16 matrices, biases and inv_freq buffers, fp32 LayerNorms, a separate lm_head.weight) and
pytorch_model.bin.index.json. dkv's glm family and glm_torch_bench.py read it.

Tokenizer: ice_text.model in ChatGLM-6B's piece order with its exact size and ids (130344 pieces, config
vocab 130528: [MASK] 130000, [gMASK] 130001, <sop> 130004, <eop> 130005, <|tab|> 130008, <|blank_2..80|>,
byte pieces 130088..130343, <pad> 3, <n> 4), grown without SentencePiece from the committed fixture model
(scorers/src/test/resources/fixtures/glm/ice_text.model, written by ops/reference/glm_fixtures.py): its meta,
<n> and learned pieces, then "Question", "Answer", then word pieces "\u2581wN" with id N up to the first special
id (score -1, above any split of the word into learned pieces, which score below -2), then its special,
whitespace and byte pieces; trainer_spec.vocab_size and the normalizer (nmt_nfkc) carried over. So a word wN
after a space is exactly one token, id N (make_workload.py --family glm writes text of such words); after a
newline it has no "\u2581" and splits into characters/bytes, as in the real model. The `tiny` shape keeps the
same layout with fewer words (first special id 4000).

Weights, drawn in the target dtype from one seeded generator on --device, in the checkpoint's tensor order:
matrices normal(0, --std: 0.02; 0.16 for tiny), biases normal(0, --bias-std), LayerNorm weight 1 + normal(0, 0.1) and bias
normal(0, 0.1) in float32 (away from (1, 0) so that a loader ignoring them fails). With alpha = sqrt(56) the
residual stream is alpha x a LayerNorm output plus a sublayer output, so magnitudes do not grow with depth;
--check-layers K runs K random full-width layers on --device and prints per-layer maxima (see README).
lm_head.weight is drawn on its own: the published checkpoint stores a copy of the embeddings, but with random
layers the input token's own embedding dominates the last hidden state, so a tied head predicts "repeat the
input token" with logits near 70 and NLLs near 70, where fp16 logits have a 0.06 step (--tied-head gives that).

  python make_glm_model.py --out /tmp/dkv-glm/model --shape chatglm-6b --dtype float16     # ~13.4 GB, GPU
  python make_glm_model.py --out /tmp/tiny --shape tiny --dtype float32 --device cpu        # tests
  python make_glm_model.py --check-layers 2 --shape chatglm-6b --device cpu                 # magnitudes only
"""
import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 (the clock starts before the imports: they are part of where the time goes)
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "ops", "reference"))
import glm_fixtures as fx  # noqa: E402  (piece names, tokenizer_config.json; sentencepiece not needed)
import sp_proto  # noqa: E402

BASE_MODEL = os.path.join(ROOT, "scorers", "src", "test", "resources", "fixtures", "glm", "ice_text.model")
WORD_SCORE = -1.0
TEMPLATE_PIECES = ["Question", "Answer"]  # after <n> the template words carry no "\u2581"

SHAPES = {
    # THUDM/chatglm-6b: 6.17e9 parameters (lm_head tied), 28 layers, 32 heads x 128, MLP 16384.
    "chatglm-6b": dict(hidden_size=4096, inner_hidden_size=16384, num_layers=28, num_attention_heads=32,
                       vocab_size=130528, first_special_id=130000, max_sequence_length=2048, shards=8, std=0.02),
    # CPU tests: head_dim 16 (two RoPE channels of 4 frequency pairs), inner != 4 x hidden; std 0.02 x sqrt(4096 / 64)
    # gives sublayer outputs and scores of the full shape's size (so the conditions' NLLs differ visibly).
    "tiny": dict(hidden_size=64, inner_hidden_size=160, num_layers=3, num_attention_heads=4,
                 vocab_size=4416, first_special_id=4000, max_sequence_length=2048, shards=2, std=0.16),
    # tiny layers with ChatGLM-6B's whole vocabulary and ids: the 130344-piece ice_text.model end to end on a CPU.
    "tiny-vocab": dict(hidden_size=64, inner_hidden_size=160, num_layers=2, num_attention_heads=4,
                       vocab_size=130528, first_special_id=130000, max_sequence_length=2048, shards=2, std=0.16),
}


def word(i):
    return f"w{i}"


def build_ice_text(first_special_id, base=BASE_MODEL):
    """ice_text.model bytes: the base model's pieces rearranged so that [MASK] lands on first_special_id."""
    with open(base, "rb") as f:
        proto = f.read()
    pieces = sp_proto.pieces(proto)
    names = [p[0] for p in pieces]
    tail = fx.SPECIAL_PIECES + fx.WHITESPACE_PIECES
    start = names.index(tail[0])
    assert names[:5] == ["<unk>", "<s>", "</s>", "<pad>", "<n>"], names[:5]
    assert names[start:start + len(tail)] == tail and all(p[2] == sp_proto.BYTE for p in pieces[start + len(tail):])
    head = [p[3] for p in pieces[:start]]
    head += [sp_proto.piece_field(t, WORD_SCORE) for t in TEMPLATE_PIECES if t not in names]
    first_word = len(head)
    if first_special_id <= first_word + 100:
        raise ValueError(f"first special id {first_special_id} leaves no room for words after id {first_word}")
    words = [sp_proto.piece_field("\u2581" + word(i), WORD_SCORE) for i in range(first_word, first_special_id)]
    out = sp_proto.replace_pieces(proto, head + words + [p[3] for p in pieces[start:]])
    return set_trainer_vocab_size(out, len(pieces) - start + first_special_id), first_word


def set_trainer_vocab_size(proto, n):
    """trainer_spec (field 2).vocab_size (field 4) = n, every other byte kept."""
    out = []
    for number, raw, payload in sp_proto.fields(proto):
        if number == 2:
            sub = [sp_proto.encode_varint(4 << 3) + sp_proto.encode_varint(n) if num == 4 else r
                   for num, r, _ in sp_proto.fields(payload)]
            raw = sp_proto.length_delimited(2, b"".join(sub))
        out.append(raw)
    return b"".join(out)


def config_json(shape, dtype, ids):
    s = SHAPES[shape]
    return {
        "_name_or_path": f"dkv/random-{shape}",
        "architectures": ["ChatGLMModel"],
        "auto_map": {"AutoConfig": "configuration_chatglm.ChatGLMConfig",
                     "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
                     "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration"},
        "bos_token_id": ids["<sop>"], "eos_token_id": ids["<eop>"], "mask_token_id": ids["[MASK]"],
        "gmask_token_id": ids["[gMASK]"], "pad_token_id": ids["<pad>"],
        "hidden_size": s["hidden_size"], "inner_hidden_size": s["inner_hidden_size"], "layernorm_epsilon": 1e-05,
        "max_sequence_length": s["max_sequence_length"], "model_type": "chatglm",
        "num_attention_heads": s["num_attention_heads"], "num_layers": s["num_layers"], "position_encoding_2d": True,
        "torch_dtype": dtype, "transformers_version": "4.23.1", "use_cache": True, "vocab_size": s["vocab_size"],
    }


def tensor_specs(s):
    """(name, shape, kind) in checkpoint order; kind: matrix, bias, ln_weight, ln_bias, inv_freq, head."""
    h, inner, vocab = s["hidden_size"], s["inner_hidden_size"], s["vocab_size"]
    specs = [("transformer.word_embeddings.weight", (vocab, h), "matrix")]
    for i in range(s["num_layers"]):
        p = f"transformer.layers.{i}."
        specs += [(p + "input_layernorm.weight", (h,), "ln_weight"), (p + "input_layernorm.bias", (h,), "ln_bias"),
                  (p + "attention.query_key_value.weight", (3 * h, h), "matrix"),
                  (p + "attention.query_key_value.bias", (3 * h,), "bias"),
                  (p + "attention.rotary_emb.inv_freq", (h // s["num_attention_heads"] // 4,), "inv_freq"),
                  (p + "attention.dense.weight", (h, h), "matrix"), (p + "attention.dense.bias", (h,), "bias"),
                  (p + "post_attention_layernorm.weight", (h,), "ln_weight"),
                  (p + "post_attention_layernorm.bias", (h,), "ln_bias"),
                  (p + "mlp.dense_h_to_4h.weight", (inner, h), "matrix"), (p + "mlp.dense_h_to_4h.bias", (inner,), "bias"),
                  (p + "mlp.dense_4h_to_h.weight", (h, inner), "matrix"), (p + "mlp.dense_4h_to_h.bias", (h,), "bias")]
    specs += [("transformer.final_layernorm.weight", (h,), "ln_weight"),
              ("transformer.final_layernorm.bias", (h,), "ln_bias"),
              ("lm_head.weight", (vocab, h), "head")]
    return specs


class Drawer:
    """Draws the checkpoint's tensors in order from one seeded generator on `device`."""

    def __init__(self, s, device, dtype, seed, std, bias_std, tied_head=False):
        self.device, self.dtype, self.std, self.bias_std = torch.device(device), dtype, std, bias_std
        self.tied_head = tied_head
        self.g = torch.Generator(device=self.device).manual_seed(seed)
        self.inv_freq = torch.tensor(fx.ref.inv_freq_fp16(s["hidden_size"] // s["num_attention_heads"] // 2),
                                     dtype=torch.float16)
        self.embedding = None

    def draw(self, name, shape, kind):
        if kind == "head" and self.tied_head:
            return self.embedding.clone()  # as the published checkpoint: lm_head.weight equal to the embeddings
        if kind == "inv_freq":
            return self.inv_freq.clone()
        if kind in ("ln_weight", "ln_bias"):
            t = torch.empty(shape, dtype=torch.float32, device=self.device).normal_(0.0, 0.1, generator=self.g)
            return t + 1.0 if kind == "ln_weight" else t
        t = torch.empty(shape, dtype=self.dtype, device=self.device)
        t.normal_(0.0, self.bias_std if kind == "bias" else self.std, generator=self.g)
        if name == "transformer.word_embeddings.weight":
            self.embedding = t
        return t


def shard_plan(specs, shards):
    """Consecutive groups of about equal bytes (lm_head in the last one, as in the published checkpoint)."""
    sizes = [torch.Size(shape).numel() * (4 if kind.startswith("ln") else 2) for _, shape, kind in specs]
    total, groups, acc = sum(sizes), [[]], 0
    for (name, shape, kind), size in zip(specs, sizes):
        if acc >= total * len(groups) / shards and len(groups) < shards:
            groups.append([])
        groups[-1].append((name, shape, kind))
        acc += size
    return groups


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def write_snapshot(args, dtype):
    s = SHAPES[args.shape]
    timings = {"imports_s": round(time.perf_counter() - STARTED, 3)}
    t0 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    proto, first_word = build_ice_text(s["first_special_id"])
    with open(os.path.join(args.out, "ice_text.model"), "wb") as f:
        f.write(proto)
    names = [p[0] for p in sp_proto.pieces(proto)]
    ids = {n: names.index(n) for n in ("[MASK]", "[gMASK]", "<sop>", "<eop>", "<pad>")}
    assert ids["[MASK]"] == s["first_special_id"] and len(names) <= s["vocab_size"]
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config_json(args.shape, args.dtype, ids), f, indent=2)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({**fx.TOKENIZER_CONFIG, "name_or_path": f"dkv/random-{args.shape}"}, f, indent=2)
    timings["tokenizer_s"] = round(time.perf_counter() - t0, 3)

    drawer = Drawer(s, args.device, dtype, args.seed, args.std, args.bias_std, args.tied_head)
    groups = shard_plan(tensor_specs(s), s["shards"])
    weight_map, total_bytes, params = {}, 0, 0
    init_s = copy_s = 0.0
    t_weights = time.perf_counter()

    def save(state, path, k):  # torch.save releases the GIL while it writes tensor data: shards go out in parallel
        t0 = time.perf_counter()
        torch.save(state, path)
        seconds = time.perf_counter() - t0
        print(f"# shard {k}/{len(groups)} saved: {sum(t.numel() * t.element_size() for t in state.values()) / 1e9:.2f} GB "
              f"in {seconds:.1f}s", file=sys.stderr, flush=True)
        return seconds

    with ThreadPoolExecutor(max_workers=max(1, args.save_workers)) as pool:
        saves = []
        for k, group in enumerate(groups, 1):  # drawn in order from one generator: the weights do not depend on threads
            t0 = time.perf_counter()
            state = {name: drawer.draw(name, shape, kind) for name, shape, kind in group}
            sync(args.device)
            t1 = time.perf_counter()
            state = {name: t.to("cpu").contiguous() for name, t in state.items()}
            t2 = time.perf_counter()
            init_s, copy_s = init_s + t1 - t0, copy_s + t2 - t1
            fname = f"pytorch_model-{k:05d}-of-{len(groups):05d}.bin"
            for name, t in state.items():
                weight_map[name] = fname
                total_bytes += t.numel() * t.element_size()
                if not name.endswith("inv_freq") and name != "lm_head.weight":
                    params += t.numel()
            print(f"# shard {k}/{len(groups)}: {len(state)} tensors, init {t1 - t0:.1f}s, to cpu {t2 - t1:.1f}s",
                  file=sys.stderr, flush=True)
            saves.append(pool.submit(save, state, os.path.join(args.out, fname), k))
            del state
        save_s = sum(f.result() for f in saves)
    with open(os.path.join(args.out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total_bytes}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    timings.update(init_s=round(init_s, 3), to_cpu_s=round(copy_s, 3), save_seconds_summed_over_shards=round(save_s, 3),
                   weights_wall_s=round(time.perf_counter() - t_weights, 3))
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    info = {"shape": args.shape, "params": params, "params_note": "every tensor but lm_head.weight (tied in the "
            "published model, so counted once) and the inv_freq buffers", "dtype": args.dtype, "seed": args.seed,
            "std": args.std, "bias_std": args.bias_std, "tied_head": args.tied_head,
            "pieces": len(names), "vocab_size": s["vocab_size"], "first_word_id": first_word,
            "bytes_on_disk": size, "shards": len(groups), "device": str(args.device), **timings,
            "total_s": round(time.perf_counter() - STARTED, 3)}
    with open(os.path.join(args.out, "dkv-glm-model.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


@torch.no_grad()
def check_layers(args, dtype):
    """K random layers of the shape (the snapshot's distributions, not its values) over a 128-token prompt and
    a 24-token continuation: per layer the largest |residual|, |q.k/sqrt(d)|, |attention out|, |MLP pre-activation|
    and |MLP out|, and the logits' spread. Finite, and far below the fp16 limit (65504), is what the snapshot needs."""
    sys.path.insert(0, HERE)
    import glm_torch as gt
    s = SHAPES[args.shape]
    drawer = Drawer(s, args.device, dtype, args.seed, args.std, args.bias_std, args.tied_head)
    specs = {name: (shape, kind) for name, shape, kind in tensor_specs(s)}
    weights = {n: drawer.draw(n, *specs[n]) for n in ("transformer.word_embeddings.weight",
                                                      "transformer.final_layernorm.weight",
                                                      "transformer.final_layernorm.bias", "lm_head.weight")}
    cfg = {**config_json(args.shape, args.dtype, {k: 0 for k in ("[MASK]", "[gMASK]", "<sop>", "<eop>", "<pad>")}),
           "num_layers": 0}
    model = gt.GlmTorch(cfg, weights, args.device, dtype)
    g = torch.Generator().manual_seed(1)
    n_text, n_cont = 126, 24
    ids = torch.randint(100, s["first_special_id"], (1, n_text + 2 + n_cont), generator=g).to(args.device)
    position, block, mask = gt.prefill_geometry([n_text], n_text + 2, args.device)
    cpos, cblock, cmask = gt.continuation_geometry([n_text + 2], [n_cont], [n_text], n_text + 2, n_cont, args.device)
    x = model.embed[ids[:, :n_text + 2]]
    xc = model.embed[ids[:, n_text + 2:]]
    cos, sin = model.rope_tables(position, block)
    ccos, csin = model.rope_tables(cpos, cblock)
    rows = []
    for i in range(args.check_layers):
        p = f"transformer.layers.{i}."
        layer = gt.layer_from({p + v: drawer.draw(p + v, *specs[p + v]) for v in gt.LAYER_TENSORS.values()},
                              p, args.device, dtype)
        prompt_stats, cont_stats = {}, {}
        x, k_new, v_new = model.block(layer, x, cos, sin, mask, stats=prompt_stats)
        xc, _, _ = model.block(layer, xc, ccos, csin, cmask, k_new, v_new, stats=cont_stats)
        row = {"layer": i, "max_abs_hidden": x.abs().max().item(), "max_abs_continuation_hidden": xc.abs().max().item(),
               **{k: max(prompt_stats[k], cont_stats[k]) for k in prompt_stats}}
        row = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
        row["finite"] = bool(torch.isfinite(x).all() and torch.isfinite(xc).all())
        rows.append(row)
        print(json.dumps(row), flush=True)
    # the continuation's rows predict its next tokens (random ids: NLL about log(vocab) + the logits' spread)
    logits = torch.nn.functional.linear(model.layer_norm(xc[0], model.final_w, model.final_b), model.lm_head).float()
    lp = torch.log_softmax(logits[:-1], -1).gather(1, ids[0, n_text + 3:, None])
    summary = {"shape": args.shape, "dtype": args.dtype, "device": str(args.device), "layers": args.check_layers,
               "logits_std": round(logits.std().item(), 4), "logits_max_abs": round(logits.abs().max().item(), 3),
               "mean_nll_random_targets": round(-lp.mean().item(), 3),
               "max_abs_hidden": max(r["max_abs_hidden"] for r in rows),
               "max_abs_score": max(r["max_abs_score"] for r in rows),
               "all_finite": all(r["finite"] for r in rows), "seconds": round(time.perf_counter() - STARTED, 1)}
    print(json.dumps(summary), flush=True)
    return 0 if summary["all_finite"] else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="snapshot directory to write")
    p.add_argument("--shape", choices=sorted(SHAPES), default="chatglm-6b")
    p.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16",
                   help="dtype of the stored matrices and biases (float32 for CPU tests); LayerNorms are float32")
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu",
                   help="where the weights are drawn")
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--std", type=float, default=None, help="matrices (default: the shape's, 0.02 for chatglm-6b)")
    p.add_argument("--bias-std", type=float, default=0.02)
    p.add_argument("--save-workers", type=int, default=4, help="shards written in parallel")
    p.add_argument("--tied-head", action="store_true", help="lm_head.weight = the embeddings (see above)")
    p.add_argument("--check-layers", type=int, default=0,
                   help="write nothing: run this many random layers of the shape and print activation maxima")
    args = p.parse_args()
    dtype = getattr(torch, args.dtype)
    if args.std is None:
        args.std = SHAPES[args.shape]["std"]
    if args.check_layers:
        return check_layers(args, dtype)
    if not args.out:
        p.error("--out is required (or --check-layers)")
    write_snapshot(args, dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
