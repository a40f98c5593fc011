#!/usr/bin/env python3
"""Tests of the benchmark scripts on CPU (float32), run on the build machine:

    /opt/refvenv/bin/python -m unittest ops/gpu/bench/test_bench.py -v

- the word-level tokenizer: N words are N tokens plus BOS, template tokens and newlines tokenize as planned;
- HfScorer against the committed reference fixtures of ops/reference/llama_fixtures.py (an independent
  implementation of the same placements on HF's eager attention; Llama, Mistral and Qwen2 shapes, every
  placement incl. keep_bos=false, INTERLEAVED and NONE corrections): token ids, segment lengths and NLLs
  in research (batch 1) and batched mode, within 1e-4;
- the layer-0 invariant: a truncated + corrected cache's document keys equal the bare cache's;
- end to end on the tiny shape: make_model.py, make_workload.py, hf_bench.py (research and batched agree
  within 1e-4), compare.py reading a Java-style JSONL;
- java_timing.py recovers a stand-in command's per-pair rate from the difference of its two runs.
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
from bench_layout import Condition, layout  # noqa: E402
from hf_bench import HfScorer, batches  # noqa: E402
from make_model import FIRST_WORD_ID, build_tokenizer  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "..", "..", "scorers", "src", "test", "resources", "fixtures")
PYTHON = sys.executable
TOLERANCE = 1e-4

torch.set_num_threads(1)


def fixture_condition(d):
    return Condition(name=d["name"], placement=d["placement"], surrogate=d["surrogate"] or "",
                     separator=d["separator"], rope_correction=d["rope_correction"], keep_bos=d["keep_bos"],
                     query_free=d["query_free"], document_template=d["document_template"],
                     query_template=d["query_template"], query_free_template=d["query_free_template"],
                     answer_template=d["answer_template"])


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


class FixtureTest(unittest.TestCase):
    """HfScorer vs the reference fixtures (expected NLLs from HF eager attention, float32)."""

    def check_family(self, family):
        from tokenizers import Tokenizer
        from transformers import AutoModelForCausalLM
        root = os.path.join(FIXTURES, family)
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
            for b in batches(layouts, 5):
                for lay, v in zip(b, scorer.batch(b).tolist()):
                    batched[(lay.sample_id, lay.condition)] = v
        for lay, want, got in zip(layouts, expected, research):
            self.assertAlmostEqual(got, want, delta=TOLERANCE, msg=f"research {family} {lay.sample_id}/{lay.condition}")
            self.assertAlmostEqual(batched[(lay.sample_id, lay.condition)], want, delta=TOLERANCE,
                                   msg=f"batched {family} {lay.sample_id}/{lay.condition}")
        # the corrections are not all the same number: the check can tell them apart
        by_name = {(lay.sample_id, lay.condition): v for lay, v in zip(layouts, research)}
        self.assertGreater(abs(by_name[("s1", "trunc")] - by_name[("s1", "trunc_uncorrected")]), 1e-3)

    def test_llama(self):
        self.check_family("llama")

    def test_mistral(self):
        self.check_family("mistral")

    def test_qwen2_without_bos(self):
        self.check_family("qwen2")


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


class JavaTimingTest(unittest.TestCase):
    """java_timing.py on a stand-in command with a known fixed cost (0.4 s) and per-sample cost (0.05 s)."""

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
