"""Trains the tiny Llama that `dkv demo` scores with, and writes it to demo/model/ (HF snapshot layout).

    /opt/refvenv/bin/python ops/demo/train_tiny_llama.py [--steps 1600] [--out demo/model]

What it does, in order:
1. generates a training corpus with the demo's own generator (synthetic.py) but from the disjoint
   'train' entity pool and another seed;
2. trains a byte-level BPE tokenizer on it (BOS `<s>` added by a TemplateProcessing post-processor,
   EOS `</s>`), standard ByteLevel pre-tokenizer/decoder so Rust `tokenizers` (DJL on the Java side)
   reproduces the ids;
3. trains a 4-layer GQA Llama on three layouts of each sample, exactly as dkv's scorer lays text out
   (docs/architecture.md "Layouts and recipes"): bare `<s>{passage}\\n\\nQuestion: {query}\\nAnswer: {answer}`,
   query as PREFIX `<s>{query}\\n{passage}...` and query as SUFFIX `<s>{passage}\\n{query}...`, each
   followed by up to --extra-questions more question/answer pairs about the same passage;
4. saves with save_pretrained(safe_serialization=True), reloads with AutoModelForCausalLM/AutoTokenizer
   and checks that the reloaded model gives the same logits and the tokenizer adds BOS;
5. measures answer NLL (mean over answer tokens per sample, then over samples) with reference_nll.py:
   every demo/plan.json condition on demo/samples.jsonl (entities never trained on), and bare / prefix /
   truncated / suffix on a held-out set of the training pool.

Deterministic by construction: fixed seeds, a fixed number of steps, torch.set_num_threads(2)
(--max-minutes is only a safety stop; a run it cuts short says so).
"""

import argparse
import json
import math
import os
import pathlib
import random
import sys
import time

# The build machine is shared: OpenMP threads that spin while waiting for a descheduled sibling waste
# most of the CPU. Must be set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_nll  # noqa: E402
import synthetic  # noqa: E402
from layout import ANSWER_TEMPLATE, QUERY_TEMPLATE, segment_lengths, segments  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
TRAIN_SEED = 1234
HELDOUT_SEED = 99
BOS, EOS, PAD = "<s>", "</s>", "<pad>"


# ---------------------------------------------------------------- tokenizer

def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[BOS, EOS, PAD],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, bos_id)])
    return tok


# ---------------------------------------------------------------- training data

def training_examples(tok, samples, rng, extra_questions):
    """Each sample in the three layouts (surrogate = its query), followed by up to `extra_questions` more
    question/answer pairs about the same passage. The first pair is exactly the scorer's layout; the
    others multiply the answer supervision per forward pass, which is what teaches a model this small to
    look the asked attribute up in the passage within a CPU budget. Every token is a target; answer
    tokens are flagged for the extra loss term."""
    examples = []
    for sample, others in samples:
        for placement in ("NONE", "PREFIX_FULL", "SUFFIX"):
            texts = list(segments(sample, placement, surrogate=sample["query"]))
            answer_spans = [len(texts) - 1]
            for query, answer in others[:extra_questions]:
                texts += [QUERY_TEMPLATE.format(query=query), ANSWER_TEMPLATE.format(answer=answer)]
                answer_spans.append(len(texts) - 1)
            ids, lengths = segment_lengths(tok, texts)
            is_answer = []
            for k, n in enumerate(lengths[1:]):
                is_answer += [int(k in answer_spans)] * n
            examples.append((ids + [tok.token_to_id(EOS)], [0] + is_answer + [0]))
    rng.shuffle(examples)
    return examples


def batches(examples, batch_size, pad_id, rng):
    while True:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            chunk = [examples[i] for i in order[start:start + batch_size]]
            width = max(len(ids) for ids, _ in chunk)
            input_ids = torch.full((batch_size, width), pad_id, dtype=torch.long)
            mask = torch.zeros((batch_size, width), dtype=torch.long)
            answer = torch.zeros((batch_size, width), dtype=torch.float32)
            for row, (ids, is_answer) in enumerate(chunk):
                input_ids[row, :len(ids)] = torch.tensor(ids)
                mask[row, :len(ids)] = 1
                answer[row, :len(ids)] = torch.tensor(is_answer, dtype=torch.float32)
            yield input_ids, mask, answer


def loss_of(model, input_ids, mask, answer):
    """Mean LM loss over all real tokens plus mean loss over answer tokens: the copy task is what the
    demo measures, so it gets its own term instead of drowning among predictable template tokens."""
    logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1]
    targets = input_ids[:, 1:]
    token_loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    token_loss = token_loss.view(targets.shape)
    real = mask[:, 1:].float()
    ans = answer[:, 1:]
    lm = (token_loss * real).sum() / real.sum()
    ans_loss = (token_loss * ans).sum() / ans.sum()
    return lm + ans_loss, lm.item(), ans_loss.item()


def train(model, examples, args, pad_id):
    rng = random.Random(TRAIN_SEED)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, args.steps // 20)

    def lr_factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model.train()
    started = time.time()
    stream = batches(examples, args.batch_size, pad_id, rng)
    done = 0
    for step in range(args.steps):
        if time.time() - started > 60 * args.max_minutes:
            print(f"stopped at step {step} of {args.steps}: --max-minutes {args.max_minutes} reached "
                  f"(the run is then not reproducible step for step)", flush=True)
            break
        input_ids, mask, answer = next(stream)
        loss, lm, ans = loss_of(model, input_ids, mask, answer)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        done += 1
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  lm {lm:.3f}  answer {ans:.3f}  lr {scheduler.get_last_lr()[0]:.2e}  "
                  f"{time.time() - started:.0f}s", flush=True)
    model.eval()
    return time.time() - started, done


# ---------------------------------------------------------------- save + reload checks

def save(model, tok, out):
    out.mkdir(parents=True, exist_ok=True)
    model.config.architectures = ["LlamaForCausalLM"]
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=model.config.bos_token_id, eos_token_id=model.config.eos_token_id,
                     pad_token_id=model.config.pad_token_id, do_sample=False).save_pretrained(out)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                     model_max_length=model.config.max_position_embeddings)
    hf_tok.save_pretrained(out)
    make_portable(out)
    # The tokenizer file as the Rust library sees it, without transformers in between (what DJL loads).
    raw = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert raw.encode("hello").ids[0] == tok.token_to_id(BOS), "tokenizer.json does not add BOS"


# dkv's own chat template for the demo model (it was never instruction-tuned): a user turn is laid out as the
# training text was, the message and then a blank line and "Question:", so the model continues with a question
# about the passage at the end of the message. `dkv demo --generated` renders the prompt templates through it.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] != 'user' %}"
    "{{ raise_exception('dkv-tiny-llama was not trained on chat turns: user messages only') }}{% endif %}"
    "{% if not loop.first %}{{ '\\n\\n' }}{% endif %}{{ message['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\n\\nQuestion:' }}{% endif %}"
)


def make_portable(out):
    """Small edits so readers other than transformers 5 load the snapshot (idempotent)."""
    # Readers that predate transformers 5's `rope_parameters` look for a top-level rope_theta.
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config["rope_theta"] = config["rope_parameters"]["rope_theta"]
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    # transformers 5 writes its own class name (TokenizersBackend); the portable name loads in 4.x and 5.x.
    tok_config_path = out / "tokenizer_config.json"
    tok_config = json.loads(tok_config_path.read_text())
    tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    tok_config_path.write_text(json.dumps(tok_config, indent=2, sort_keys=True) + "\n")
    # The demo's chat template, as a file of its own (transformers 5 and dkv read chat_template.jinja).
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    # safetensors writes 0600; containers read the mounted model as another user.
    for path in out.iterdir():
        path.chmod(0o644)


@torch.no_grad()
def check_reload(out, model, tok, sample):
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    hf_tok = AutoTokenizer.from_pretrained(out)
    text = "".join(segments(sample, "NONE"))
    ids = hf_tok(text)["input_ids"]
    assert ids == tok.encode(text).ids, "AutoTokenizer ids differ from the trained tokenizer"
    assert ids[0] == hf_tok.bos_token_id == reloaded.config.bos_token_id, "BOS is not added"
    x = torch.tensor([ids])
    diff = (reloaded(input_ids=x).logits - model(input_ids=x).logits).abs().max().item()
    assert diff == 0.0, f"reloaded model differs: max |Δlogit| = {diff}"
    print(f"reload ok: {len(ids)} ids, first {ids[:3]}, max |Δlogit| {diff}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "demo" / "model"))
    parser.add_argument("--demo-samples", default=str(REPO / "demo" / "samples.jsonl"))
    parser.add_argument("--plan", default=str(REPO / "demo" / "plan.json"))
    parser.add_argument("--train-samples", type=int, default=12000)
    parser.add_argument("--heldout-samples", type=int, default=200)
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1600)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--extra-questions", type=int, default=3)
    parser.add_argument("--max-minutes", type=float, default=32.0, help="safety stop for the training loop")
    parser.add_argument("--report", default=None, help="also write the evaluation as JSON here")
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(TRAIN_SEED)
    random.seed(TRAIN_SEED)

    train_pairs = synthetic.make_samples_with_other_questions(args.train_samples, TRAIN_SEED, pool="train",
                                                              id_prefix="train")
    train_samples = [sample for sample, _ in train_pairs]
    heldout = synthetic.make_samples(args.heldout_samples, HELDOUT_SEED, pool="train", id_prefix="heldout")
    demo = [json.loads(line) for line in pathlib.Path(args.demo_samples).read_text().splitlines() if line]
    train_entities = {s["passage"].split(" is ")[0] for s in train_samples}
    overlap = [s["id"] for s in demo if s["passage"].split(" is ")[0] in train_entities]
    assert not overlap, f"demo entities also in the training corpus: {overlap[:5]}"

    corpus = ["".join(segments(s, p, s["query"])) for s in train_samples for p in ("NONE", "PREFIX_FULL", "SUFFIX")]
    tok = train_tokenizer(corpus, args.vocab_size)
    print(f"tokenizer: vocab {tok.get_vocab_size()}")
    lengths = {k: [] for k in ("passage", "query", "answer")}
    for s in demo:
        _, (_, _, n_doc, _, n_query, n_answer) = segment_lengths(tok, segments(s, "NONE"))
        lengths["passage"].append(n_doc)
        lengths["query"].append(len(tok.encode(s["query"]).ids) - 1)
        lengths["answer"].append(n_answer)
    for k, v in lengths.items():
        print(f"demo {k} tokens: min {min(v)} mean {sum(v) / len(v):.1f} max {max(v)}")

    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                         rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=tok.token_to_id(BOS),
                         eos_token_id=tok.token_to_id(EOS), pad_token_id=tok.token_to_id(PAD))
    model = LlamaForCausalLM(config)
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters")

    examples = training_examples(tok, train_pairs, random.Random(TRAIN_SEED), args.extra_questions)
    seconds, steps_done = train(model, examples, args, tok.token_to_id(PAD))
    print(f"trained {steps_done} steps x {args.batch_size} sequences in {seconds:.0f}s "
          f"(wall clock on a shared machine)")

    out = pathlib.Path(args.out)
    save(model, tok, out)
    check_reload(out, model, tok, demo[0])
    reference_nll.check_truncation_reference(model, tok, demo[0])

    plan = json.loads(pathlib.Path(args.plan).read_text())
    heldout_conditions = [c for c in plan["conditions"] if c["name"] in ("bare", "oracle_full", "oracle_trunc", "oracle_suffix")]
    demo_summary = reference_nll.summarize(reference_nll.score_plan(model, tok, demo, plan["conditions"]), "bare")
    heldout_summary = reference_nll.summarize(reference_nll.score_plan(model, tok, heldout, heldout_conditions), "bare")
    reference_nll.print_table(f"demo/samples.jsonl ({len(demo)} samples, entities disjoint from training)",
                              demo_summary, "bare")
    reference_nll.print_table(f"held-out training-pool samples ({len(heldout)}, seed {HELDOUT_SEED})",
                              heldout_summary, "bare")
    if args.report:
        pathlib.Path(args.report).write_text(json.dumps(
            {"args": vars(args), "train_seconds": seconds, "steps_done": steps_done, "demo": demo_summary,
             "heldout": heldout_summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
