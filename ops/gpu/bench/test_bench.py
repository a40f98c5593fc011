#!/usr/bin/env python3
"""Tests of the benchmark scripts on CPU (float32), run on the build machine:

    /opt/refvenv/bin/python -m unittest ops/gpu/bench/test_bench.py -v

- the word-level tokenizer: N words are N tokens plus BOS, template tokens and newlines tokenize as planned;
- HfScorer against the committed reference fixtures of ops/reference/llama_fixtures.py (an independent
  implementation of the same placements on HF's eager attention; Llama, Mistral and Qwen2 shapes, every
  placement incl. keep_bos=false, INTERLEAVED and NONE corrections) and of t5gemma2_fixtures.py (Gemma 3:
  per-layer-type RoPE tables and windows): token ids, segment lengths and NLLs in research (batch 1) and
  batched mode, within 1e-4;
- T5Scorer (hf_t5gemma_bench.py) against the T5Gemma 2 fixtures (both weight layouts): both streams' ids and
  segments, the cross-attention visibility, and NLLs of the shared-encoder and plain programs within 1e-4;
- the Gemma-style tokenizer (ids 0-3 pad/eos/bos/unk, reserved image ids) and frequent_words;
- the layer-0 invariant: a truncated + corrected cache's document keys equal the bare cache's;
- end to end on the tiny shape: make_model.py, make_workload.py, hf_bench.py (research and batched agree
  within 1e-4), compare.py reading a Java-style JSONL; the same for gemma3-tiny (hf_bench.py) and for the
  encoder-decoder path (make_t5gemma_model.py, make_workload.py --layout t5gemma-v3, hf_t5gemma_bench.py);
- java_timing.py recovers a stand-in command's per-pair rate from the difference of its two runs;
- hf_generate_bench.py (the generation benchmark): prompts, the no-EOS view, HF generate at two batch sizes, compare.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_layout import Condition, InputError, frequent_words, layout, layout_encdec  # noqa: E402
from hf_bench import HfScorer, batches  # noqa: E402
from make_model import FIRST_WORD_ID, build_tokenizer  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "..", "..", "scorers", "src", "test", "resources", "fixtures")


def fixture_dir(family):
    """The committed fixture, or (before the families' fixtures are merged here) one under $DKV_BENCH_FIXTURES."""
    for root in (FIXTURES, os.environ.get("DKV_BENCH_FIXTURES")):
        if root and os.path.exists(os.path.join(root, family, "expected.json")):
            return os.path.join(root, family)
    return None
PYTHON = sys.executable
TOLERANCE = 1e-4

torch.set_num_threads(1)


def fixture_condition(d):
    return Condition(name=d["name"], placement=d["placement"], surrogate=d["surrogate"] or "",
                     separator=d["separator"], rope_correction=d["rope_correction"], keep_bos=d["keep_bos"],
                     query_free=d["query_free"], document_template=d["document_template"],
                     query_template=d["query_template"], query_free_template=d["query_free_template"],
                     answer_template=d["answer_template"], requires_family=d.get("requires_family"))


class TokenizerTest(unittest.TestCase):
    def setUp(self):
        self.tok = build_tokenizer(2000)

    def test_one_word_one_token_with_bos(self):
        text = " ".join(f"w{i}" for i in range(FIRST_WORD_ID, FIRST_WORD_ID + 37))
        self.assertEqual(self.tok.encode(text).ids, [1] + list(range(FIRST_WORD_ID, FIRST_WORD_ID + 37)))

    def test_template_tokens(self):
        enc = self.tok.encode("w10 w11.\n\nQuestion: w12?\nAnswer: w13, w14")
        self.assertEqual(enc.tokens, ["<s>", "w10", "w11", ".", "\n", "\n", "Question", ":", "w12", "?", "\n",
                                      "Answer", ":", "w13", ",", "w14"])
        self.assertNotIn(0, enc.ids)

    def test_unknown_word_is_unk(self):
        self.assertEqual(self.tok.encode("hello w10").ids, [1, 0, 10])
        self.assertEqual(self.tok.encode("w1999 w2000").ids, [1, 1999, 0])

    def test_gemma_style(self):
        tok = build_tokenizer(2000, "gemma", {1997: "<start_of_image>", 1998: "<end_of_image>",
                                               1999: "<image_soft_token>"})
        self.assertEqual(tok.encode("w11 w12 w1996").ids, [2, 11, 12, 1996])
        self.assertEqual(tok.encode("").ids, [2])
        enc = tok.encode("w11.\nAnswer: w1997 <end_of_image>")
        self.assertEqual(enc.tokens, ["<bos>", "w11", ".", "\n", "Answer", ":", "<unk>", "<end_of_image>"])
        self.assertEqual(enc.ids, [2, 11, 7, 4, 10, 5, 3, 1998])
        self.assertEqual([tok.id_to_token(i) for i in range(4)], ["<pad>", "<eos>", "<bos>", "<unk>"])

    def test_frequent_words(self):
        # counts first, ties by first appearance; terms of <= 2 characters never count
        self.assertEqual(frequent_words("w12 w345 w67. w345 w12, w99 w12.", 2), ["w12", "w345"])
        self.assertEqual(frequent_words("w12 w345 w67. w345 w12, w99 w12.", 5), ["w12", "w345", "w67", "w99"])
        with self.assertRaises(InputError):
            frequent_words("the quick w12", 5)


class FixtureTest(unittest.TestCase):
    """HfScorer vs the reference fixtures (expected NLLs from HF eager attention, float32)."""

    def check_family(self, family, root=None, batched_placements=None):
        from tokenizers import Tokenizer
        from transformers import AutoModelForCausalLM
        root = root or os.path.join(FIXTURES, family)
        with open(os.path.join(root, "expected.json")) as f:
            fixture = json.load(f)
        tok = Tokenizer.from_file(os.path.join(root, "tokenizer.json"))
        model = AutoModelForCausalLM.from_pretrained(root, dtype=torch.float32, attn_implementation="sdpa").eval()
        scorer = HfScorer(model)
        samples = {s["id"]: s for s in fixture["samples"]}
        conditions = {(sid, c["name"]): fixture_condition(c) for sid, cs in fixture["conditions"].items() for c in cs}
        layouts, expected = [], []
        for e in fixture["expected"]:
            lay = layout(tok, conditions[(e["sample_id"], e["condition"])], samples[e["sample_id"]])
            where = f"{family} {e['sample_id']}/{e['condition']}"
            self.assertEqual(list(lay.ids), e["ids"], where)
            seg = e["segments"]
            self.assertEqual((lay.bos, lay.prefix, lay.doc, lay.suffix, lay.query, lay.answer),
                             (seg["bos"], seg["prefix"], seg["document"], seg["suffix"], seg["query"], seg["answer"]),
                             where)
            layouts.append(lay)
            expected.append(e["nll_mean"])
        self.assertGreater(len({lay.placement for lay in layouts}), 3)
        self.assertGreater(len({(lay.rope_correction, lay.keep_bos) for lay in layouts}), 2)
        with torch.inference_mode():
            research = [scorer.research_pair(lay).item() for lay in layouts]
            batched = {}
            in_batch = [lay for lay in layouts if batched_placements is None or lay.placement in batched_placements]
            for b in batches(in_batch, 5):
                for lay, v in zip(b, scorer.batch(b).tolist()):
                    batched[(lay.sample_id, lay.condition)] = v
        for lay, want, got in zip(layouts, expected, research):
            self.assertAlmostEqual(got, want, delta=TOLERANCE, msg=f"research {family} {lay.sample_id}/{lay.condition}")
            if (lay.sample_id, lay.condition) in batched:
                self.assertAlmostEqual(batched[(lay.sample_id, lay.condition)], want, delta=TOLERANCE,
                                       msg=f"batched {family} {lay.sample_id}/{lay.condition}")
        self.assertGreater(len(batched), len(layouts) // 3)
        # the corrections are not all the same number: the check can tell them apart
        by_name = {(lay.sample_id, lay.condition): v for lay, v in zip(layouts, research)}
        self.assertGreater(abs(by_name[("s1", "trunc")] - by_name[("s1", "trunc_uncorrected")]), 1e-3)

    def test_llama(self):
        self.check_family("llama")

    def test_mistral(self):
        self.check_family("mistral")

    def test_qwen2_without_bos(self):
        self.check_family("qwen2")

    def test_gemma3_per_layer_type_rope(self):
        # Gemma 3: sliding and full layers rotate with their own tables; the fixture's windows are shorter than
        # its texts, so the research mode (one pair, one cache) is checked against every placement; batched
        # mode would place a ragged truncated row's window by slot, not by position (HfScorer refuses that), so
        # it is checked without truncation (the benchmark's window, 1024, is longer than any of its texts)
        root = fixture_dir("gemma3")
        if root is None:
            self.skipTest("no gemma3 fixture (set DKV_BENCH_FIXTURES to a fixtures directory holding one)")
        self.check_family("gemma3", root=root, batched_placements=("NONE", "PREFIX_FULL", "SUFFIX"))


class T5FixtureTest(unittest.TestCase):
    """T5Scorer vs the T5Gemma 2 fixtures (HF eager attention, float32): layouts and NLLs, both programs."""

    def check(self, name):
        from tokenizers import Tokenizer
        from hf_t5gemma_bench import T5Scorer, plain_plan, shared_plan
        from transformers import T5Gemma2ForConditionalGeneration
        root = fixture_dir(name)
        if root is None:
            self.skipTest(f"no {name} fixture (set DKV_BENCH_FIXTURES to a fixtures directory holding one)")
        with open(os.path.join(root, "expected.json")) as f:
            fixture = json.load(f)
        tok = Tokenizer.from_file(os.path.join(root, "tokenizer.json"))
        model = T5Gemma2ForConditionalGeneration.from_pretrained(root, dtype=torch.float32,
                                                                 attn_implementation="sdpa").eval()
        scorer = T5Scorer(model)
        samples = {s["id"]: s for s in fixture["samples"]}
        conditions = {(sid, c["name"]): c for sid, cs in fixture["conditions"].items() for c in cs}
        layouts, expected = [], []
        for e in fixture["expected"]:
            c = conditions[(e["sample_id"], e["condition"])]
            if c.get("cross_mask", "PREFIX") != "PREFIX":
                continue  # the research's off-by-one mask: dkv's variant, not the benchmark's
            lay = layout_encdec(tok, fixture_condition(c), samples[e["sample_id"]])
            where = f"{name} {e['sample_id']}/{e['condition']}"
            self.assertEqual(list(lay.enc_ids), e["encoder_ids"], where)
            self.assertEqual(list(lay.dec_ids), e["decoder_ids"], where)
            es, ds = e["encoder_segments"], e["decoder_segments"]
            self.assertEqual((lay.bos, lay.prefix, lay.doc), (es["bos"], es["prefix"], es["document"]), where)
            self.assertEqual((lay.dec_bos, lay.query, lay.answer), (ds["bos"], ds["query"], ds["answer"]), where)
            self.assertEqual(lay.cross_visible, e["cross_visible"], where)
            layouts.append(lay)
            expected.append(e["nll_mean"])
        self.assertGreater(len({lay.placement for lay in layouts}), 2)
        self.assertTrue(any(lay.query for lay in layouts) and any(not lay.query for lay in layouts))
        got = {}
        with torch.inference_mode():
            for size in (1, 4):
                plan, users = shared_plan(layouts, size)
                for b in plan:
                    pairs, nll = scorer.shared_step(b, users)
                    for lay, v in zip(pairs, nll.tolist()):
                        got[("shared", size, lay.sample_id, lay.condition)] = v
                for b in plain_plan(layouts, size):
                    pairs, nll = scorer.plain_step(b)
                    for lay, v in zip(pairs, nll.tolist()):
                        got[("plain", size, lay.sample_id, lay.condition)] = v
        for lay, want in zip(layouts, expected):
            for program in ("shared", "plain"):
                for size in (1, 4):
                    self.assertAlmostEqual(got[(program, size, lay.sample_id, lay.condition)], want, delta=TOLERANCE,
                                           msg=f"{program} batch {size}: {name} {lay.sample_id}/{lay.condition}")
        by = {(lay.sample_id, lay.condition): v for lay, v in zip(layouts, expected)}
        self.assertGreater(abs(by[("s1", "coencode")] - by[("s1", "coencode_masked")]), 1e-3)

    def test_t5gemma2(self):
        self.check("t5gemma2")

    def test_t5gemma2_textmodel_layout(self):
        self.check("t5gemma2_textmodel")


class EndToEndTest(unittest.TestCase):
    """The scripts as run.sh runs them, on the tiny shape."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dkv-bench-test-")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        run = lambda *args: subprocess.run([PYTHON, *args], check=True, env=env, capture_output=True,  # noqa: E731
                                           text=True).stdout
        cls.model = os.path.join(cls.dir, "model")
        cls.model_info = json.loads(run(os.path.join(HERE, "make_model.py"), "--out", cls.model, "--shape", "tiny",
                                        "--device", "cpu", "--dtype", "float32").strip().splitlines()[-1])
        cls.work = os.path.join(cls.dir, "work.jsonl")
        cls.plan = os.path.join(cls.dir, "plan.json")
        cls.workload = json.loads(run(os.path.join(HERE, "make_workload.py"), "--tokenizer", cls.model,
                                      "--out", cls.work, "--samples", "6", "--seed", "7").strip())
        cls.results = os.path.join(cls.dir, "results.json")
        run(os.path.join(HERE, "hf_bench.py"), "--model", cls.model, "--work", cls.work, "--plan", cls.plan,
            "--out", cls.results, "--batch-sizes", "4,64", "--warmup", "2", "--threads", "1")
        with open(cls.results) as f:
            cls.res = json.load(f)
        cls.script = staticmethod(run)

    def test_model_snapshot(self):
        names = os.listdir(self.model)
        for required in ("config.json", "model.safetensors.index.json", "tokenizer.json"):
            self.assertIn(required, names)
        self.assertGreater(sum(n.endswith(".safetensors") for n in names), 1)
        from transformers import AutoTokenizer
        fast = AutoTokenizer.from_pretrained(self.model)
        self.assertEqual(fast("w10 w11\nAnswer:")["input_ids"], [1, 10, 11, 3, FIRST_WORD_ID - 1, 4])

    def test_workload_lengths(self):
        w = self.workload
        self.assertEqual((w["samples"], w["conditions"], w["pairs"]), (6, 8, 48))
        self.assertTrue(95 <= w["mean_doc"] <= 105, w)
        self.assertTrue(9 <= w["mean_prefix"] <= 11, w)  # 8-10 query words + separator
        self.assertTrue(9 <= w["mean_answer"] <= 11, w)
        with open(self.plan) as f:
            plan = json.load(f)
        self.assertEqual([c["placement"] for c in plan["conditions"]].count("PREFIX_TRUNCATED"), 3)

    def test_research_and_batched_agree(self):
        r = self.res
        self.assertEqual(len(r["nll"]["research"]), 48)
        self.assertLess(r["checks"]["max_abs_nll_diff_research_vs_batched"], TOLERANCE)
        spread = max(r["nll"]["research"]) - min(r["nll"]["research"])
        self.assertGreater(spread, 1e-3, "NLLs are degenerate: every pair scores the same")
        self.assertEqual([b["batch_size"] for b in r["modes"]["batched"]["by_batch_size"]], [4, 64])
        self.assertEqual(r["workload"]["tokens"], round(r["workload"]["tokens_per_pair"] * 48, 0))

    def test_conditions_differ(self):
        keys = [tuple(k) for k in self.res["keys"]]
        nll = dict(zip(keys, self.res["nll"]["research"]))
        sample = keys[0][0]
        self.assertNotAlmostEqual(nll[(sample, "oracle_trunc")], nll[(sample, "oracle_trunc_nocorr")], delta=1e-5)
        self.assertNotAlmostEqual(nll[(sample, "bare")], nll[(sample, "oracle_full")], delta=1e-5)

    def test_compare(self):
        keys = [tuple(k) for k in self.res["keys"]]
        java = os.path.join(self.dir, "java.jsonl")
        with open(java, "w") as f:
            for (sid, cond), v in zip(keys, self.res["nll"]["batched"]):
                shift = 0.25 if (sid, cond) == keys[5] else 0.0
                f.write(json.dumps({"sample_id": sid, "condition": cond, "nll": v + shift}) + "\n")
        timing = os.path.join(self.dir, "java-timing.json")
        seconds = self.res["modes"]["batched"]["seconds"] / 2
        with open(timing, "w") as f:
            json.dump({"pairs": 48, "seconds": seconds, "peak_bytes": 123456789}, f)
        out = self.script(os.path.join(HERE, "compare.py"), "--hf", self.results, "--java", java,
                       "--java-timing", timing, "--json", os.path.join(self.dir, "compare.json"))
        self.assertIn("java", out)
        with open(os.path.join(self.dir, "compare.json")) as f:
            cmp = json.load(f)
        self.assertAlmostEqual(cmp["nll"]["max_abs_diff_vs_batched"], 0.25, delta=1e-6)
        self.assertEqual(cmp["nll"]["worst"]["sample_id"], keys[5][0])
        self.assertEqual(cmp["nll"]["matched"], 48)
        java_row = next(row for row in cmp["rows"] if row["name"] == "java")
        self.assertAlmostEqual(java_row["vs_batched"], 2.0, delta=0.01)
        # a missing pair is an error, not a silent skip
        with open(java, "w") as f:
            f.write(json.dumps({"sample_id": keys[0][0], "condition": keys[0][1], "nll": 1.0}) + "\n")
        proc = subprocess.run([PYTHON, os.path.join(HERE, "compare.py"), "--hf", self.results, "--java", java,
                               "--java-timing", timing], capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("missing", proc.stderr + proc.stdout)


class Gemma3EndToEndTest(unittest.TestCase):
    """make_model.py --shape gemma3-tiny, the decoder-only workload, hf_bench.py: research and batched agree."""

    def test_gemma3_tiny(self):
        d = tempfile.mkdtemp(prefix="dkv-bench-gemma3-")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        run = lambda *args: subprocess.run([PYTHON, *args], check=True, env=env, capture_output=True,  # noqa: E731
                                           text=True).stdout
        model = os.path.join(d, "model")
        info = json.loads(run(os.path.join(HERE, "make_model.py"), "--out", model, "--shape", "gemma3-tiny",
                              "--device", "cpu", "--dtype", "float32").strip().splitlines()[-1])
        self.assertEqual(info["architecture"], "Gemma3ForCausalLM")
        with open(os.path.join(model, "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["model_type"], config["bos_token_id"]), ("gemma3_text", 2))
        work, plan, res = (os.path.join(d, n) for n in ("work.jsonl", "plan.json", "results.json"))
        run(os.path.join(HERE, "make_workload.py"), "--tokenizer", model, "--out", work, "--samples", "3")
        run(os.path.join(HERE, "hf_bench.py"), "--model", model, "--work", work, "--plan", plan, "--out", res,
            "--batch-sizes", "4,64", "--warmup", "2", "--threads", "1")
        with open(res) as f:
            r = json.load(f)
        self.assertEqual(len(r["nll"]["research"]), 24)
        self.assertLess(r["checks"]["max_abs_nll_diff_research_vs_batched"], TOLERANCE)
        keys = [tuple(k) for k in r["keys"]]
        nll = dict(zip(keys, r["nll"]["research"]))
        sample = keys[0][0]
        self.assertNotAlmostEqual(nll[(sample, "oracle_trunc")], nll[(sample, "oracle_trunc_nocorr")], delta=1e-6)


class T5EndToEndTest(unittest.TestCase):
    """The encoder-decoder scripts as run_t5gemma.sh runs them, on the tiny shape."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dkv-bench-t5-")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        run = lambda *args: subprocess.run([PYTHON, *args], check=True, env=env, capture_output=True,  # noqa: E731
                                           text=True).stdout
        cls.model = os.path.join(cls.dir, "model")
        cls.model_info = json.loads(run(os.path.join(HERE, "make_t5gemma_model.py"), "--out", cls.model, "--shape",
                                        "tiny", "--device", "cpu", "--dtype", "float32").strip().splitlines()[-1])
        cls.work = os.path.join(cls.dir, "work.jsonl")
        cls.plan = os.path.join(cls.dir, "plan.json")
        cls.workload = json.loads(run(os.path.join(HERE, "make_workload.py"), "--layout", "t5gemma-v3",
                                      "--tokenizer", cls.model, "--out", cls.work, "--samples", "6").strip())
        cls.results = os.path.join(cls.dir, "results.json")
        run(os.path.join(HERE, "hf_t5gemma_bench.py"), "--model", cls.model, "--work", cls.work, "--plan", cls.plan,
            "--out", cls.results, "--batch-sizes", "3,64", "--research", "--threads", "1")
        with open(cls.results) as f:
            cls.res = json.load(f)
        cls.script = staticmethod(run)

    def test_model_snapshot(self):
        names = os.listdir(self.model)
        for required in ("config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"):
            self.assertIn(required, names)
        with open(os.path.join(self.model, "model.safetensors.index.json")) as f:
            weights = json.load(f)["weight_map"]
        self.assertIn("model.encoder.layers.0.self_attn.q_norm.weight", weights)  # the hub's names
        self.assertNotIn("lm_head.out_proj.weight", weights)  # tied, omitted
        self.assertTrue(any(".vision_tower." in k for k in weights))
        with open(os.path.join(self.model, "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["model_type"], config["bos_token_id"], config["pad_token_id"]), ("t5gemma2", 2, 0))
        self.assertEqual(config["encoder"]["eoi_token_index"], 1998)
        from transformers import AutoTokenizer
        fast = AutoTokenizer.from_pretrained(self.model)
        self.assertEqual(fast("w11 w12\nAnswer:")["input_ids"], [2, 11, 12, 4, 10, 5])
        counts = self.model_info["param_counts"]
        self.assertEqual(counts["text"], counts["encoder_layers"] + counts["decoder_layers"] + counts["embedding"])
        self.assertEqual(self.res["model"]["params"], counts["text"])

    def test_real_shape_config(self):
        from make_t5gemma_model import build_config
        c = build_config("t5gemma-2-4b-4b")
        for t in (c.encoder.text_config, c.decoder):
            self.assertEqual((t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads,
                              t.num_key_value_heads, t.head_dim, t.query_pre_attn_scalar, t.sliding_window,
                              t.vocab_size), (2560, 10240, 34, 8, 4, 256, 256, 1024, 262144))
            self.assertEqual(t.layer_types.count("full_attention"), 5)
            self.assertEqual(t.rope_parameters["full_attention"]["factor"], 8.0)
        self.assertEqual((c.encoder.boi_token_index, c.encoder.eoi_token_index, c.image_token_index),
                         (255999, 256000, 256001))
        # layer parameters per stack: attention 2560*(2048+1024+1024) + 2048*2560, MLP 3*2560*10240, norms
        per_layer = 2560 * 4096 + 2048 * 2560 + 3 * 2560 * 10240 + 4 * 2560 + 2 * 256
        self.assertAlmostEqual(34 * per_layer * 2 + 262144 * 2560, 7.09e9, delta=0.01e9)

    def test_workload(self):
        w = self.workload
        self.assertEqual((w["samples"], w["conditions"], w["pairs"]), (6, 8, 48))
        self.assertEqual(w["distinct_encoder_inputs_per_sample"], 5.0)
        self.assertTrue(30 <= w["passage_words"]["min"] and w["passage_words"]["max"] <= 300, w)
        self.assertEqual(w["mean_query"], 0)  # the answer alone in the decoder
        with open(self.plan) as f:
            plan = json.load(f)
        self.assertEqual({c["requires_family"] for c in plan["conditions"]}, {"t5gemma2"})
        self.assertEqual({(c["query_free"], c["query_free_template"], c["answer_template"])
                          for c in plan["conditions"]}, {(True, "", "{answer}")})
        self.assertEqual([c["placement"] for c in plan["conditions"]].count("ENCODER_COENCODE_MASKED"), 4)
        with open(self.work) as f:
            sample = json.loads(f.readline())
        from bench_layout import load_plan
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(self.model, "tokenizer.json"))
        conds = {c.name: c for c in load_plan(self.plan).conditions}
        kw = layout_encdec(tok, conds["keywords_masked"], sample)
        top = frequent_words(sample["passage"], 5)
        self.assertEqual(kw.enc_ids[1:kw.bos + kw.prefix], tuple(int(w[1:]) for w in top) + (4,))  # words, "\n"
        self.assertEqual(kw.cross_visible[:kw.bos + kw.prefix + 1], [1] + [0] * kw.prefix + [1])
        bare = layout_encdec(tok, conds["bare"], sample)
        self.assertEqual((bare.prefix, bare.enc_ids[1:]), (0, kw.enc_ids[kw.bos + kw.prefix:]))
        self.assertEqual(bare.dec_ids[0], 2)

    def test_programs_agree(self):
        r = self.res
        self.assertEqual(len(r["nll"]["batched"]), 48)
        self.assertEqual({row["program"] for row in r["modes"]["batched"]["by_batch_size"]}, {"shared", "plain"})
        for key, diff in r["checks"].items():
            self.assertLess(diff, TOLERANCE, key)
        self.assertEqual(len(r["checks"]), 2)  # research and the slower program against the best
        shared = r["modes"]["batched_shared"]
        rows = {(row["program"], row["batch_size"]): row for row in r["modes"]["batched"]["by_batch_size"]}
        self.assertEqual(rows[("shared", 3)]["encoder_batches"], 10)  # 30 distinct encoder inputs, 3 at a time
        self.assertEqual(rows[("plain", 3)]["encoder_batches"], 16)  # 48 pairs, each its own encoder pass
        self.assertLess(shared["encoder_tokens_computed"], r["modes"]["batched_plain"]["encoder_tokens_computed"])
        spread = max(r["nll"]["batched"]) - min(r["nll"]["batched"])
        self.assertGreater(spread, 1e-3, "NLLs are degenerate: every pair scores the same")
        keys = [tuple(k) for k in r["keys"]]
        nll = dict(zip(keys, r["nll"]["batched"]))
        sample = keys[0][0]
        self.assertNotAlmostEqual(nll[(sample, "oracle_full")], nll[(sample, "oracle_masked")], delta=1e-6)
        self.assertNotAlmostEqual(nll[(sample, "bare")], nll[(sample, "oracle_masked")], delta=1e-6)

    def test_compare(self):
        keys = [tuple(k) for k in self.res["keys"]]
        java = os.path.join(self.dir, "java.jsonl")
        with open(java, "w") as f:
            for (sid, cond), v in zip(keys, self.res["nll"]["batched"]):
                f.write(json.dumps({"sample_id": sid, "condition": cond, "nll": v + (0.125 if cond == "bare" else 0)})
                        + "\n")
        timing = os.path.join(self.dir, "java-timing.json")
        with open(timing, "w") as f:
            json.dump({"pairs": 48, "seconds": self.res["modes"]["batched"]["seconds"] / 3, "peak_bytes": 1}, f)
        out = self.script(os.path.join(HERE, "compare.py"), "--hf", self.results, "--java", java,
                          "--java-timing", timing, "--json", os.path.join(self.dir, "compare.json"))
        self.assertIn("batched: ", out)
        self.assertIn("plain, batch", out)
        with open(os.path.join(self.dir, "compare.json")) as f:
            cmp = json.load(f)
        self.assertAlmostEqual(cmp["nll"]["max_abs_diff_vs_batched"], 0.125, delta=1e-6)
        java_row = next(row for row in cmp["rows"] if row["name"] == "java")
        self.assertAlmostEqual(java_row["vs_batched"], 3.0, delta=0.01)


class GenerateBenchTest(unittest.TestCase):
    """hf_generate_bench.py as run_generate.sh runs it, on the tiny shape: prompts over the model's words, the no-EOS
    view, HF generate at two batch sizes (same greedy tokens, exactly N new each), and compare against Java-style
    outputs made from HF's tokens with one prompt changed."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dkv-generate-bench-test-")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        bench = os.path.join(HERE, "hf_generate_bench.py")
        cls.bench = staticmethod(lambda *args: subprocess.run([PYTHON, bench, *args], check=True, env=env,  # noqa: E731
                                                            capture_output=True, text=True).stdout)
        model = os.path.join(cls.dir, "model")
        subprocess.run([PYTHON, os.path.join(HERE, "make_model.py"), "--out", model, "--shape", "tiny", "--device", "cpu",
                        "--dtype", "float32"], check=True, env=env, capture_output=True)
        cls.prompts = os.path.join(cls.dir, "prompts.jsonl")
        cls.workload = json.loads(cls.bench("workload", "--model", model, "--out", cls.prompts, "--docs", "4"))
        cls.view = os.path.join(cls.dir, "view")
        cls.view_info = json.loads(cls.bench("view", "--model", model, "--out", cls.view))
        cls.results = os.path.join(cls.dir, "hf.json")
        cls.bench("hf", "--model", cls.view, "--prompts", cls.prompts, "--out", cls.results, "--batch-sizes", "3,20",
                "--max-new-tokens", "5", "--device", "cpu", "--threads", "1")
        with open(cls.results) as f:
            cls.hf = json.load(f)

    def test_prompts_and_view(self):
        self.assertEqual((self.workload["prompts"], self.workload["documents"], self.workload["templates"]), (20, 4, 5))
        self.assertTrue(90 <= self.workload["doc_tokens_min"] <= self.workload["doc_tokens_max"] <= 110, self.workload)
        self.assertEqual(self.view_info["eos_token_id"], 2000)
        with open(os.path.join(self.view, "generation_config.json")) as f:
            self.assertEqual(json.load(f)["eos_token_id"], 2000)
        self.assertTrue(os.path.islink(os.path.join(self.view, "config.json")))
        # made again in place: the view replaces its own files, and refuses a directory it did not make
        self.bench("view", "--model", os.path.join(self.dir, "model"), "--out", self.view)
        with self.assertRaises(subprocess.CalledProcessError):
            self.bench("view", "--model", os.path.join(self.dir, "model"), "--out", os.path.join(self.dir, "model"))

    def test_hf_generates_exactly_n_new_tokens_the_same_at_every_batch_size(self):
        small, large = self.hf["tokens"]["3"], self.hf["tokens"]["20"]
        self.assertEqual(len(small), 20)
        self.assertTrue(all(len(t) == 5 for t in small.values()))
        self.assertEqual(small, large)
        self.assertGreater(len({tuple(t) for t in small.values()}), 1, "every prompt generated the same tokens")
        self.assertEqual([s["new_tokens"] for s in self.hf["sizes"]], [100, 100])

    def test_compare(self):
        tokens = self.hf["tokens"][str(self.hf["best"])]
        out = os.path.join(self.dir, "java-b20.jsonl")
        changed = sorted(tokens)[7]
        with open(out, "w") as f:
            for key, t in tokens.items():
                f.write(json.dumps({"id": key, "new_tokens": t[:3] + [7, 7] if key == changed else t, "text": ""}) + "\n")
        with open(os.path.join(self.dir, "java-b20.repeated.jsonl"), "w") as f:
            for k in range(3):
                for key, t in tokens.items():
                    f.write(json.dumps({"id": f"{key}~r{k}", "new_tokens": t, "text": ""}) + "\n")
        best = next(s for s in self.hf["sizes"] if s["batch_size"] == self.hf["best"])
        timing = os.path.join(self.dir, "java-b20-timing.json")
        with open(timing, "w") as f:
            json.dump({"pairs": 40, "seconds": best["seconds"], "peak_bytes": 2 ** 30}, f)  # twice HF's rate
        summary = os.path.join(self.dir, "compare.json")
        text = self.bench("compare", "--hf", self.results, "--java", f"20={out},{timing}", "--java",
                        f"3={out},{os.path.join(self.dir, 'missing.json')}", "--json", summary)
        self.assertIn("goal >= 1.5x: met", text)
        with open(summary) as f:
            cmp = json.load(f)
        self.assertAlmostEqual(cmp["ratio_new_tokens_per_s"], 2.0, delta=0.01)
        self.assertEqual(cmp["agreement"]["java_vs_hf"]["identical"], 19)
        self.assertAlmostEqual(cmp["agreement"]["java_vs_hf"]["mean_prefix_share"], (19 + 3 / 5) / 20, delta=1e-4)
        self.assertEqual(cmp["java"][0]["new_tokens"], 200)


class JavaTimingTest(unittest.TestCase):
    """java_timing.py on a stand-in command with a known fixed cost (0.4 s) and per-sample cost (0.05 s)."""

    def test_busy_is_the_longest_hot_stretch(self):
        import java_timing
        poller = java_timing.PeakPoller("0", 0.2)
        utils = [0] * 10 + [80] + [0] * 5 + [95] * 9 + [30] + [95] * 10 + [0] * 3  # loading spike, scoring, one dip
        poller.samples = [(round(0.2 * i, 2), 2 ** 30, u, 1700.0, 600.0) for i, u in enumerate(utils)]
        busy = poller.busy()
        self.assertEqual(busy["samples"], 20)  # the 19 hot samples and the dip between them, not the spike
        self.assertAlmostEqual(busy["utilization_mean"], (19 * 95 + 30) / 20, places=1)
        self.assertAlmostEqual(busy["seconds"], 3.8, places=2)
        poller.samples = [(0.0, 0, 10, 0.0, 0.0)]
        self.assertIsNone(poller.busy())

    def test_rate_from_the_difference_of_two_runs(self):
        d = tempfile.mkdtemp(prefix="dkv-java-timing-")
        work = os.path.join(d, "work.jsonl")
        with open(work, "w") as f:
            for i in range(6):
                f.write(json.dumps({"id": f"s{i}", "query": "q", "passage": "p", "answer": "a"}) + "\n")
        fake = ("import json, sys, time\n"
                "time.sleep(0.4)\n"
                "ids = [json.loads(l)['id'] for l in open(sys.argv[1]) if l.strip()]\n"
                "time.sleep(0.05 * len(ids))\n"
                "with open(sys.argv[2], 'w') as f:\n"
                "    for i in ids:\n"
                "        for c in 'abcdefgh':\n"
                "            f.write(json.dumps({'sample_id': i, 'condition': c, 'nll': 1.0}) + '\\n')\n")
        timing = os.path.join(d, "timing.json")
        subprocess.run([PYTHON, os.path.join(HERE, "java_timing.py"), "--work", work, "--repeat", "8",
                        "--scores", os.path.join(d, "java.jsonl"), "--out", timing, "--",
                        PYTHON, "-c", fake, "{work}", "{out}"], check=True, capture_output=True)
        with open(timing) as f:
            t = json.load(f)
        self.assertEqual(t["pairs"], 6 * 8 * 8 - 6 * 8)
        self.assertAlmostEqual(t["pairs"] / t["seconds"], 8 / 0.05, delta=0.25 * 8 / 0.05)
        self.assertAlmostEqual(t["fixed_seconds"], 0.4, delta=0.3)
        with open(os.path.join(d, "java.repeated.jsonl")) as f:
            self.assertIn("s5~r7", f.read())


class InvariantTest(unittest.TestCase):
    def test_truncated_corrected_document_keys_equal_bare_at_layer_0(self):
        from transformers import AutoModelForCausalLM, DynamicCache
        root = os.path.join(FIXTURES, "mistral")
        model = AutoModelForCausalLM.from_pretrained(root, dtype=torch.float32, attn_implementation="sdpa").eval()
        scorer = HfScorer(model)
        g = torch.Generator().manual_seed(3)
        bos, prefix, doc = [0], torch.randint(5, 400, (7,), generator=g).tolist(), torch.randint(5, 400, (20,),
                                                                                                 generator=g).tolist()
        from bench_layout import Layout

        def lay(correction):
            ids = tuple(bos + prefix + doc + [9, 10])
            return Layout("s", correction, "PREFIX_TRUNCATED", correction, True, ids, 1, 7, 20, 0, 1, 1)
        with torch.inference_mode():
            bare = model.model(input_ids=torch.tensor([bos + doc]), past_key_values=DynamicCache(config=model.config),
                               use_cache=True).past_key_values.layers[0].keys[:, :, 1:]
            full = model.model(input_ids=torch.tensor([bos + prefix + doc]),
                               past_key_values=DynamicCache(config=model.config), use_cache=True).past_key_values
            for correction, equal in (("HALF_SPLIT", True), ("INTERLEAVED", False), ("NONE", False)):
                import copy
                cache, valid = scorer.truncated_cache(copy.deepcopy(full), [lay(correction)])
                keys = cache.layers[0].keys[:, :, 1:]
                delta = (keys - bare).abs().max().item()
                self.assertEqual(delta < 1e-5, equal, f"{correction}: max |Δ| {delta}")
                self.assertEqual(valid.tolist(), [[1] * 21])


if __name__ == "__main__":
    unittest.main()
