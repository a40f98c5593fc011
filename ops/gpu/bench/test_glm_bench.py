#!/usr/bin/env python3
"""Tests of the GLM benchmark scripts on CPU (float32), run on the build machine:

    /opt/refvenv/bin/python -m unittest ops/gpu/bench/test_glm_bench.py -v

- ice_text.model of make_glm_model.py: ChatGLM-6B's piece count and special ids, a word wN is the one id N,
  the other fields of the base model kept byte for byte;
- the torch peer (glm_torch_bench.py's research and batched programs) against the committed GLM fixture
  (ops/reference/glm_fixtures.py: the float64 NumPy reference, 3 samples x 10 conditions incl. bare_padded,
  truncation without correction and with an empty prefix): token ids, segment lengths and NLLs within 1e-4;
- make_glm_model.py --check-layers: finite activations on the tiny shape;
- end to end on the tiny shape: run_glm.sh --no-java, then compare.py with a planted Java difference and a
  missing pair; with a built cli (cli/target/lib) and a JDK 25, run_glm.sh with the real `dkv score`: Java and
  the peer agree within 1e-4.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import glm_layout  # noqa: E402
import glm_torch as gt  # noqa: E402
import glm_torch_bench as gb  # noqa: E402
import make_glm_model as mk  # noqa: E402
import sp_proto  # noqa: E402  (ops/reference, on the path through make_glm_model)
from bench_layout import Condition  # noqa: E402

FIXTURE = os.path.join(ROOT, "scorers", "src", "test", "resources", "fixtures", "glm")
PYTHON = sys.executable
TOLERANCE = 1e-4

torch.set_num_threads(1)


def fixture_condition(d):
    return Condition(name=d["name"], placement=d["placement"], surrogate=d["surrogate"] or "",
                     separator=d["separator"], rope_correction=d["rope_correction"], keep_bos=d["keep_bos"],
                     query_free=d["query_free"], document_template=d["document_template"],
                     query_template=d["query_template"], query_free_template=d["query_free_template"],
                     answer_template=d["answer_template"])


class IceTextTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dkv-glm-ice-")
        cls.proto, cls.first_word = mk.build_ice_text(130000)
        with open(os.path.join(cls.dir, "ice_text.model"), "wb") as f:
            f.write(cls.proto)
        with open(os.path.join(cls.dir, "tokenizer_config.json"), "w") as f:
            json.dump(mk.fx.TOKENIZER_CONFIG, f)

    def test_chatglm_6b_ids(self):
        names = [p[0] for p in sp_proto.pieces(self.proto)]
        self.assertEqual(len(names), 130344)
        expected = {"<pad>": 3, "<n>": 4, "[MASK]": 130000, "[gMASK]": 130001, "<sop>": 130004, "<eop>": 130005,
                    "<|tab|>": 130008, "<|blank_2|>": 130009, "<|blank_80|>": 130087, "<0x00>": 130088,
                    "<0xFF>": 130343}
        self.assertEqual({n: names.index(n) for n in expected}, expected)
        self.assertEqual(names[self.first_word], f"\u2581w{self.first_word}")
        self.assertEqual(names[129999], "\u2581w129999")

    def test_other_fields_kept(self):
        with open(mk.BASE_MODEL, "rb") as f:
            base = f.read()
        self.assertEqual(sp_proto.replace_pieces(base, [p[3] for p in sp_proto.pieces(base)]), base)
        kept = [(n, raw) for n, raw, _ in sp_proto.fields(self.proto) if n not in (1, 2)]
        self.assertEqual(kept, [(n, raw) for n, raw, _ in sp_proto.fields(base) if n not in (1, 2)])
        trainer = dict((n, v) for n, _, v in sp_proto.fields(next(v for n, _, v in sp_proto.fields(self.proto) if n == 2)))
        self.assertEqual(trainer[4], 130344)

    def test_words_are_one_piece_each(self):
        tok = glm_layout.tokenizer(self.dir)
        self.assertEqual(tok.encode_text("w5000 w77777. w129999"), [5000, 77777, 16, 129999])
        self.assertEqual(tok.pieces("\n\nQuestion: w500\nAnswer: w600"),
                         ["\u2581", "<n>", "<n>", "Question", ":", "\u2581w500", "<n>", "Answer", ":", "\u2581w600"])
        self.assertEqual((tok.gmask_id, tok.sop_id), (130001, 130004))


class FixtureTest(unittest.TestCase):
    """The peer on the committed fixture snapshot, against the float64 reference's expected.json."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(FIXTURE, "expected.json")) as f:
            cls.expected = json.load(f)
        cls.model = gt.GlmTorch.load(FIXTURE, "cpu", torch.float32)
        cls.tok = glm_layout.tokenizer(FIXTURE)
        cls.layouts, cls.records = [], []
        for sample in cls.expected["samples"]:
            s = {k: sample[k] for k in ("id", "query", "passage", "answer")}
            for d in cls.expected["conditions"][sample["id"]]:
                cls.layouts.append(glm_layout.layout(cls.tok, fixture_condition(d), s))
                cls.records.append(next(r for r in cls.expected["expected"]
                                        if r["sample_id"] == s["id"] and r["condition"] == d["name"]))

    def test_layouts(self):
        for lay, r in zip(self.layouts, self.records):
            self.assertEqual(list(lay.prompt_ids), r["prompt_ids"], lay.condition)
            self.assertEqual(list(lay.cont_ids), r["continuation_ids"], lay.condition)
            self.assertEqual((lay.prefix, lay.doc, lay.suffix, lay.query, lay.answer),
                             tuple(r["segments"][k] for k in ("prefix", "document", "suffix", "query", "answer")))

    def test_research_and_batched_nlls(self):
        peer = gb.Peer(self.model, pad_id=self.tok.pad_id)
        with torch.inference_mode():
            research = [peer.research_pair(lay).item() for lay in self.layouts]
            for size in (1, 4, 64):
                batched, info = peer.batched(self.layouts, size)
                for lay, r, a, b in zip(self.layouts, self.records, research, batched.tolist()):
                    self.assertAlmostEqual(a, r["nll_mean"], delta=TOLERANCE, msg=f"research {lay.sample_id}/{lay.condition}")
                    self.assertAlmostEqual(b, r["nll_mean"], delta=TOLERANCE, msg=f"batch {size} {lay.sample_id}/{lay.condition}")
                # a sample's bare and query-free conditions (and full/truncated, ...) share one prefill
                self.assertEqual(info["prefill_texts"], len({lay.prompt_ids for lay in self.layouts}))
                self.assertLess(info["prefill_texts"], len(self.layouts))


class CheckLayersTest(unittest.TestCase):
    def test_tiny_is_finite(self):
        out = subprocess.run([PYTHON, os.path.join(HERE, "make_glm_model.py"), "--check-layers", "3", "--shape", "tiny",
                              "--device", "cpu", "--dtype", "float32"], capture_output=True, text=True, check=True).stdout
        summary = json.loads(out.strip().splitlines()[-1])
        self.assertTrue(summary["all_finite"])
        self.assertLess(summary["max_abs_hidden"], 1000)


def java_command():
    jdk = os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64")
    java = os.path.join(jdk, "bin", "java")
    libs = glob.glob(os.path.join(ROOT, "cli", "target", "lib", "*.jar"))
    jars = glob.glob(os.path.join(ROOT, "cli", "target", "dkv-cli-*.jar"))
    torch_lib = glob.glob(os.path.expanduser("~/.djl.ai/pytorch/*-cpu-linux-x86_64"))
    if os.path.exists(java) and libs and jars and torch_lib:
        return java, libs + jars, torch_lib[0]
    return None


class EndToEndTest(unittest.TestCase):
    """run_glm.sh on the tiny shape, as the GPU machine runs it, on CPU in float32."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dkv-glm-bench-")
        cls.env = {**os.environ, "OUT": cls.dir, "DKV_PYTHON": PYTHON, "DKV_GLM_MODEL_DIR": os.path.join(cls.dir, "model"),
                   "DKV_BENCH_SHAPE": "tiny", "DKV_BENCH_DTYPE": "float32", "DKV_DEVICE": "cpu",
                   "DKV_BENCH_SAMPLES": "4", "DKV_BENCH_BATCH_SIZES": "8,64", "DKV_BENCH_JAVA_REPEAT": "8",
                   "DKV_BENCH_DEADLINE": "900"}
        subprocess.run([os.path.join(HERE, "run_glm.sh"), "--no-java"], env=cls.env, check=True, capture_output=True)
        cls.out = os.path.join(cls.dir, "glm")
        with open(os.path.join(cls.out, "peer-results.json")) as f:
            cls.res = json.load(f)

    def test_peer_results(self):
        r = self.res
        self.assertEqual(r["workload"]["pairs"], 32)
        self.assertEqual(len(r["nll"]["research"]), 32)
        self.assertLess(r["checks"]["max_abs_nll_diff_research_vs_batched"], 1e-5)
        self.assertEqual(r["workload"]["distinct_texts"], 4 * 5)  # 8 conditions over 5 texts a sample
        self.assertLess(r["modes"]["batched"]["forwarded_tokens"], r["workload"]["tokens"])
        means = r["mean_nll_by_condition"]["batched"].values()
        self.assertGreater(max(means) - min(means), 1e-3, "the conditions should not score alike")
        for name in ("work.jsonl", "plan.json", "workload.json", "make-model.json", "compare.txt", "run-steps.txt"):
            self.assertTrue(os.path.exists(os.path.join(self.out, name)), name)

    def test_compare_with_a_planted_difference(self):
        keys, nlls = self.res["keys"], self.res["nll"]["batched"]
        java = os.path.join(self.out, "planted.jsonl")
        with open(java, "w") as f:
            for i, ((sid, cond), v) in enumerate(zip(keys, nlls)):
                f.write(json.dumps({"sample_id": sid, "condition": cond, "nll": v + (0.25 if i == 5 else 0.0)}) + "\n")
        timing = os.path.join(self.out, "planted-timing.json")
        with open(timing, "w") as f:
            json.dump({"pairs": 32, "seconds": self.res["modes"]["batched"]["seconds"] * 2, "peak_bytes": None}, f)
        out = subprocess.run([PYTHON, os.path.join(HERE, "compare.py"), "--peer", os.path.join(self.out, "peer-results.json"),
                              "--java", java, "--java-timing", timing, "--json", os.path.join(self.out, "planted.json")],
                             capture_output=True, text=True, check=True).stdout
        self.assertIn("torch batched", out)
        self.assertIn("java vs torch", out)
        with open(os.path.join(self.out, "planted.json")) as f:
            cmp = json.load(f)
        self.assertAlmostEqual(cmp["nll"]["max_abs_diff_vs_batched"], 0.25, delta=1e-6)
        self.assertEqual(cmp["nll"]["worst"]["sample_id"], keys[5][0])
        self.assertAlmostEqual(next(r for r in cmp["rows"] if r["name"] == "java")["vs_batched"], 0.5, delta=0.01)
        with open(java, "w") as f:
            f.write(json.dumps({"sample_id": keys[0][0], "condition": keys[0][1], "nll": 1.0}) + "\n")
        proc = subprocess.run([PYTHON, os.path.join(HERE, "compare.py"), "--peer", os.path.join(self.out, "peer-results.json"),
                               "--java", java], capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("missing", proc.stderr)

    @unittest.skipUnless(java_command(), "needs cli/target/lib (./mvnw -o -q -pl cli -am package -DskipTests) and a JDK 25")
    def test_java_agrees_with_the_peer(self):
        java, jars, torch_lib = java_command()
        lib = os.path.join(self.dir, "lib")
        os.makedirs(lib, exist_ok=True)
        for jar in jars:
            target = os.path.join(lib, os.path.basename(jar))
            if not os.path.exists(target):
                os.symlink(jar, target)
        env = {**self.env, "DKV_JAVA": java, "DKV_LIB": lib, "PYTORCH_LIBRARY_PATH": torch_lib}
        subprocess.run([os.path.join(HERE, "run_glm.sh"), "--java-only"], env=env, check=True, capture_output=True)
        with open(os.path.join(self.out, "compare.json")) as f:
            cmp = json.load(f)
        self.assertEqual(cmp["nll"]["matched"], 32)
        self.assertLess(cmp["nll"]["max_abs_diff_vs_batched"], TOLERANCE)
        self.assertLess(cmp["nll"]["max_abs_diff_vs_research"], TOLERANCE)
        self.assertGreater(cmp["java_timing"]["pairs"], 0)
        self.assertFalse(os.path.exists(os.path.join(self.out, "java.repeated.jsonl")))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
