"""Writes the preset plans of producers/plans/ (run from the repo root: python3 producers/plans/generate_presets.py).

The presets are reconstructions of the research's condition sets from its lab notes (see README.md);
this script keeps their shared pieces (separators, phrases, model ids) consistent. Edit here, re-run,
commit the JSON.
"""
import json
import pathlib

OUT = pathlib.Path(__file__).parent
MISTRAL = {"id": "mistralai/Mistral-7B-Instruct-v0.2"}
CHATGLM = {"id": "THUDM/chatglm-6b"}
T5GEMMA = {"id": "google/t5gemma-2-4b-4b"}
SUFFIX_SEP = "\n\nRelated question: "
FRAMED = "Document:\n{passage}"
GENERIC = "What is this document about?"
FACTS = "What are the key facts I need to know?"
DEFINE = "What is this and what does it mean?"


def c(name, group, placement="NONE", kind=None, **extra):
    cond = {"name": name, "group": group, "placement": placement}
    if kind:
        cond["surrogate_kind"] = kind
    cond.update(extra)
    return cond


def trunc(name, group, kind, **extra):
    return c(name, group, "PREFIX_TRUNCATED", kind, **extra)


def full(name, group, kind, **extra):
    return c(name, group, "PREFIX_FULL", kind, **extra)


def suffix(name, group, kind, **extra):
    extra.setdefault("separator", SUFFIX_SEP)
    return c(name, group, "SUFFIX", kind, **extra)


def pair(name, a, b):
    return {"name": name, "a": a, "b": b}


def plan(experiment_id, description, model, samples, conditions, baseline, oracle=None, contrasts=(), correlations=(),
         ranking=None, dataset_filters=None, target=None, data=None):
    p = {"experiment_id": experiment_id, "description": description, "model": model, "seed": 42, "samples": samples}
    if data:
        p["data"] = data
    p["baseline"] = baseline
    if oracle:
        p["oracle"] = oracle
    if ranking:
        p["ranking"] = ranking
    if dataset_filters:
        p["dataset_filters"] = dataset_filters
    if target:
        p["target"] = target
    p["contrasts"] = list(contrasts)
    p["correlations"] = list(correlations)
    p["conditions"] = conditions
    return p


def v2_01():
    conditions = [
        c("bare", "baselines"),
        c("framed_bare", "baselines", document_template=FRAMED),
        full("oracle_full", "full_context", "oracle"),
        full("generated_full", "full_context", "generated"),
        full("keywords_full", "full_context", "keywords", k=5),
        full("static_full", "full_context", "static", surrogate=GENERIC),
        trunc("oracle_trunc", "truncated", "oracle"),
        trunc("generated_trunc", "truncated", "generated"),
        trunc("oracle_trunc_interleaved", "truncated", "oracle", rope_correction="INTERLEAVED"),
        trunc("oracle_trunc_uncorrected", "truncated", "oracle", rope_correction="NONE"),
        suffix("oracle_suffix", "suffix", "oracle"),
        suffix("generated_suffix", "suffix", "generated"),
        suffix("keywords_suffix", "suffix", "keywords", k=5),
        full("random_tokens_full", "random_prefix", "random_tokens", n=8),
        trunc("random_tokens_trunc", "random_prefix", "random_tokens", n=8),
    ]
    return plan("v2-exp01", "Initial 15-condition test in 5 groups: full-context, truncated (with the historical "
                "interleaved-RoPE and uncorrected variants), suffix and random-prefix controls.",
                MISTRAL, 200, conditions, "bare", "oracle_full",
                [pair("framing", "bare", "framed_bare"),
                 pair("rope_fix", "oracle_trunc", "oracle_trunc_interleaved"),
                 pair("rope_vs_none", "oracle_trunc", "oracle_trunc_uncorrected"),
                 pair("generated_vs_random_full", "generated_full", "random_tokens_full")],
                [{"a": "generated_full", "b": "random_tokens_full"}])


def v2_04():
    conditions = [
        c("bare", "baselines"),
        c("framed_bare", "baselines", document_template=FRAMED),
        full("generated_full", "full_context", "generated"),
        full("oracle_full", "full_context", "oracle"),
        full("static_full", "full_context", "static", surrogate=GENERIC),
        full("random_tokens_full", "full_context", "random_tokens", n=8),
        trunc("generated_trunc", "truncated", "generated"),
        trunc("oracle_trunc", "truncated", "oracle"),
        trunc("static_trunc", "truncated", "static", surrogate=GENERIC),
        trunc("random_tokens_trunc", "truncated", "random_tokens", n=8),
        trunc("generated_trunc_interleaved", "historical_bug", "generated", rope_correction="INTERLEAVED"),
    ]
    return plan("v2-exp04", "Corrected routing: generated vs static vs random prefixes, full-context and truncated; "
                "the 'Document:' framing artifact; the interleaved-RoPE truncation as it ran then.",
                MISTRAL, 921, conditions, "bare", "oracle_full",
                [pair("framing", "bare", "framed_bare"),
                 pair("generated_vs_random_full", "generated_full", "random_tokens_full"),
                 pair("generated_vs_static_full", "generated_full", "static_full"),
                 pair("generated_vs_random_trunc", "generated_trunc", "random_tokens_trunc"),
                 pair("rope_fix", "generated_trunc", "generated_trunc_interleaved")])


def v2_05():
    conditions = [
        c("bare", "baselines"),
        trunc("generated_trunc", "truncated", "generated"),
        trunc("oracle_trunc", "truncated", "oracle"),
        trunc("random_tokens_trunc", "truncated", "random_tokens", n=8),
        full("generated_full", "full_context", "generated"),
        full("random_tokens_full", "full_context", "random_tokens", n=8),
        trunc("generated_trunc_interleaved", "bug_reproduction", "generated", rope_correction="INTERLEAVED"),
        trunc("generated_trunc_no_bos", "bug_reproduction", "generated", keep_bos=False),
    ]
    return plan("v2-exp05", "Bug-fix rerun: truncation with half-split RoPE correction and BOS kept, against the two "
                "bugs reproduced on purpose (interleaved pairing, missing BOS).",
                MISTRAL, 200, conditions, "bare", "oracle_trunc",
                [pair("bug1_rope_pairing", "generated_trunc", "generated_trunc_interleaved"),
                 pair("bug2_missing_bos", "generated_trunc", "generated_trunc_no_bos"),
                 pair("generated_vs_random_full", "generated_full", "random_tokens_full"),
                 pair("trunc_vs_full", "generated_trunc", "generated_full")])


def v2_06():
    conditions = [
        c("bare", "baselines"),
        c("framed_bare", "baselines", document_template=FRAMED),
        trunc("generated_trunc", "truncated", "generated"),
        trunc("oracle_trunc", "truncated", "oracle"),
        trunc("irrelevant_trunc", "truncated", "irrelevant"),
        trunc("shuffled_trunc", "truncated", "shuffled", of="generated_trunc"),
        trunc("random_passage_trunc", "truncated", "random_passage"),
        trunc("random_tokens_trunc", "truncated", "random_tokens", n=8),
        full("generated_full", "full_context", "generated"),
        full("oracle_full", "full_context", "oracle"),
        full("irrelevant_full", "full_context", "irrelevant"),
        full("random_tokens_full", "full_context", "random_tokens", n=8),
        trunc("keywords_trunc", "extracted", "keywords", k=5),
        trunc("template_trunc", "extracted", "template"),
        trunc("lead_trunc", "extracted", "lead"),
        trunc("static_trunc", "extracted", "static", surrogate=GENERIC),
    ]
    return plan("v2-exp06", "Semantic priming hypothesis test (16 conditions): is the truncated-prefix benefit semantic "
                "(generated vs irrelevant, shuffled, random tokens) or structural?",
                MISTRAL, 677, conditions, "bare", "oracle_trunc",
                [pair("H2_semantic", "generated_trunc", "irrelevant_trunc"),
                 pair("H3_word_order", "generated_trunc", "shuffled_trunc"),
                 pair("H4_own_document", "generated_trunc", "random_passage_trunc"),
                 pair("H5_coherence", "generated_trunc", "random_tokens_trunc"),
                 pair("H6_full_context_semantic", "generated_full", "random_tokens_full"),
                 pair("framing", "bare", "framed_bare")],
                [{"a": "generated_trunc", "b": "shuffled_trunc"},
                 {"a": "generated_trunc", "b": "irrelevant_trunc"}])


def v2_07():
    conditions = [
        c("bare", "baselines"),
        suffix("generated_suffix", "suffix", "generated"),
        suffix("keywords_suffix", "suffix", "keywords", k=5),
        suffix("oracle_suffix", "suffix", "oracle"),
        suffix("irrelevant_suffix", "suffix", "irrelevant"),
        suffix("shuffled_suffix", "suffix", "shuffled", of="generated_suffix"),
        suffix("random_passage_suffix", "suffix", "random_passage"),
        suffix("random_tokens_suffix", "suffix", "random_tokens", n=8),
        suffix("generated_suffix_raw", "format", "generated", separator=" "),
        suffix("generated_suffix_newline", "format", "generated", separator="\n"),
        suffix("separator_only", "format", "static", surrogate=""),
        suffix("oracle_suffix_newline", "format", "oracle", separator="\n"),
        trunc("generated_trunc", "prefix_comparison", "generated"),
        trunc("oracle_trunc", "prefix_comparison", "oracle"),
        full("generated_full", "prefix_comparison", "generated"),
        suffix("lead_suffix", "summary", "lead"),
        suffix("static_suffix", "summary", "static", surrogate=GENERIC),
        suffix("the_suffix", "summary", "repeat", n=10),
    ]
    return plan("v2-exp07", "Suffix priming (18 conditions): the document's K/V stay bit-identical to bare, so any "
                "effect comes from query->suffix attention.",
                MISTRAL, 200, conditions, "bare", "oracle_suffix",
                [pair("suffix_semantic", "generated_suffix", "irrelevant_suffix"),
                 pair("suffix_word_order", "generated_suffix", "shuffled_suffix"),
                 pair("suffix_coherence", "generated_suffix", "random_tokens_suffix"),
                 pair("suffix_vs_separator", "generated_suffix", "separator_only"),
                 pair("suffix_vs_trunc", "generated_suffix", "generated_trunc")],
                [{"a": "generated_suffix", "b": "shuffled_suffix"}])


def v2_08():
    qf = {"query_free": True}
    conditions = [
        c("bare_qf", "query_free", **qf),
        suffix("generated_suffix_qf", "query_free", "generated", **qf),
        suffix("oracle_suffix_qf", "query_free", "oracle", **qf),
        suffix("irrelevant_suffix_qf", "query_free", "irrelevant", **qf),
        suffix("shuffled_suffix_qf", "query_free", "shuffled", of="generated_suffix_qf", **qf),
        suffix("random_tokens_suffix_qf", "query_free", "random_tokens", n=8, **qf),
        suffix("keywords_suffix_qf", "query_free", "keywords", k=5, **qf),
        c("bare_attention", "attention", capture_attention=True),
        suffix("generated_suffix_attention", "attention", "generated", capture_attention=True),
        suffix("irrelevant_suffix_attention", "attention", "irrelevant", capture_attention=True),
    ]
    return plan("v2-exp08", "Is there any signal? A: query-free scoring (passage + suffix + 'Answer:'), the suffix the "
                "only intent signal. B: attention shares with the query present (does the suffix steal attention "
                "from the query?).",
                MISTRAL, 200, conditions, "bare_qf", "oracle_suffix_qf",
                [pair("qf_relevant_vs_irrelevant", "generated_suffix_qf", "irrelevant_suffix_qf"),
                 pair("qf_relevant_vs_shuffled", "generated_suffix_qf", "shuffled_suffix_qf"),
                 pair("attention_generated_vs_bare", "generated_suffix_attention", "bare_attention"),
                 pair("attention_relevant_vs_irrelevant", "generated_suffix_attention", "irrelevant_suffix_attention")],
                [{"a": "generated_suffix_qf", "b": "shuffled_suffix_qf"}])


def v2_09():
    # Lab notebook exp 09 (ChatGLM-6B, RESEARCH-FACTS.md): [gMASK] <sop> follow the text, so a suffix sits inside the
    # bidirectional region; DESIGN.md names that placement SUFFIX for a prefix LM (the first version of this preset
    # said PREFIX_LM). Separator "\n\n" as the notebook; every condition needs the glm family.
    glm = {"requires_family": "glm"}

    def sfx(name, group, kind, **extra):
        extra.setdefault("separator", "\n\n")
        return c(name, group, "SUFFIX", kind, **glm, **extra)

    conditions = [
        c("bare", "A", **glm),
        # the passage followed by one newline per token of the generated surrogate (the model's tokenizer counts)
        sfx("bare_padded", "A", "padding", of="generated_suffix", separator=""),
        sfx("generated_suffix", "B", "generated"),
        sfx("oracle_suffix", "B", "oracle"),
        sfx("irrelevant_suffix", "B", "irrelevant"),
        sfx("shuffled_suffix", "B", "shuffled", of="generated_suffix"),
        sfx("random_tokens_suffix", "B", "random_tokens", n=8),
        sfx("lead_suffix", "B", "lead"),
        full("generated_full", "C", "generated", **glm),
        full("oracle_full", "C", "oracle", **glm),
        full("irrelevant_full", "C", "irrelevant", **glm),
        trunc("generated_trunc", "D", "generated", **glm),
        trunc("oracle_trunc", "D", "oracle", **glm),
        trunc("irrelevant_trunc", "D", "irrelevant", **glm),
        sfx("generated_suffix_template", "E", "template", surrogate="Question: {keyword}?"),
        sfx("generated_suffix_raw", "E", "generated", separator=" "),
        c("bare_qf", "F", query_free=True, **glm),
        sfx("generated_suffix_qf", "F", "generated", query_free=True),
        sfx("oracle_suffix_qf", "F", "oracle", query_free=True),
        sfx("irrelevant_suffix_qf", "F", "irrelevant", query_free=True),
    ]
    return plan("v2-exp09", "Prefix LM (ChatGLM-6B, lab notebook exp 09, 20 conditions in groups A-F): with bidirectional "
                "attention over the whole text the document CAN attend to a suffix. A baselines (bare, bare padded), "
                "B suffix priming (the main test), C full prefix, D truncated prefix with 2D-RoPE correction, E format "
                "sensitivity, F query-free.",
                CHATGLM, 200, conditions, "bare", "oracle_suffix",
                [pair("B_semantic", "generated_suffix", "irrelevant_suffix"),
                 pair("B_word_order", "generated_suffix", "shuffled_suffix"),
                 pair("B_vs_padding", "generated_suffix", "bare_padded"),
                 pair("C_semantic", "generated_full", "irrelevant_full"),
                 pair("D_semantic", "generated_trunc", "irrelevant_trunc"),
                 pair("F_semantic", "generated_suffix_qf", "irrelevant_suffix_qf"),
                 pair("F_vs_bare_qf", "generated_suffix_qf", "bare_qf")],
                [{"a": "generated_suffix", "b": "shuffled_suffix"}],
                # the notebook's selection from exp 06 on: 50-300 word passages, answer/passage chars <= 0.5, >= 2 answer tokens
                data={"passage_words": [50, 300], "max_answer_passage_chars": 0.5, "min_answer_tokens": 2})


# v3 scored the answer alone in the decoder: no query, no leading space (DESIGN.md "Encoder-decoder layout")
V3_TEMPLATES = {"query_free": True, "query_free_template": "", "answer_template": "{answer}"}


def coencode(name, group, kind=None, masked=True, **extra):
    return c(name, group, "ENCODER_COENCODE_MASKED" if masked else "ENCODER_COENCODE", kind,
             requires_family="t5gemma2", **V3_TEMPLATES, **extra)


# the research's v3 kinds (RESEARCH-FACTS.md "v3 kinds")
V3_KEYWORDS = {"kind": "frequent_words", "k": 5}                        # 5 most frequent non-stopwords > 2 chars
V3_TEMPLATE = {"kind": "frequent_words", "surrogate": "What is {keyword}?", "k": 1}
V3_RANDOM = {"kind": "random_passage", "n": 20}                         # first 20 words of another passage


def v3(name, group, spec, masked=True, **extra):
    spec = dict(spec)
    return coencode(name, group, spec.pop("kind"), masked, **spec, **extra)


def v3_01():
    conditions = [
        coencode("bare", "baselines", masked=False),
        coencode("oracle_full", "full", "oracle", masked=False),
        coencode("oracle_trunc", "truncated", "oracle"),
        v3("keywords_full", "full", V3_KEYWORDS, masked=False),
        v3("keywords_trunc", "truncated", V3_KEYWORDS),
        v3("random_full", "full", V3_RANDOM, masked=False),
        v3("random_trunc", "truncated", V3_RANDOM),
    ]
    return plan("v3-exp01", "T5Gemma truncation test: is the benefit the decoder reading the surrogate, or a better "
                "co-encoded document? Full visibility vs surrogate masked from cross-attention.",
                T5GEMMA, 200, conditions, "bare", "oracle_trunc",
                [pair("oracle_trunc_vs_full", "oracle_trunc", "oracle_full"),
                 pair("keywords_trunc_vs_full", "keywords_trunc", "keywords_full"),
                 pair("random_trunc_vs_full", "random_trunc", "random_full")])


def v3_02():
    conditions = [
        coencode("bare", "baselines", masked=False),
        coencode("oracle", "oracle", "oracle"),
        coencode("paraphrase_proxy", "oracle", "query_keywords_reversed"),
        v3("random", "structural", V3_RANDOM),
        coencode("irrelevant", "structural", "irrelevant"),
        coencode("random_passage", "structural", "random_passage"),
        coencode("static_generic", "static", "static", surrogate=GENERIC),
        coencode("static_facts", "static", "static", surrogate=FACTS),
        v3("keywords", "document_derived", V3_KEYWORDS),
        v3("template", "document_derived", V3_TEMPLATE),
        coencode("lead", "document_derived", "lead", max_words=25),
    ]
    return plan("v3-exp02", "T5Gemma surrogate type sweep (all masked): how much of the oracle gap does each "
                "surrogate kind close?",
                T5GEMMA, 500, conditions, "bare", "oracle",
                [pair("template_vs_random", "template", "random"),
                 pair("keywords_vs_random", "keywords", "random"),
                 pair("oracle_vs_random", "oracle", "random"),
                 pair("own_vs_other_document", "keywords", "irrelevant")],
                [{"a": "keywords", "b": "random"}])


def v3_2b():
    conditions = [coencode("bare", "baselines", masked=False), coencode("oracle", "content", "oracle")]
    for n in (1, 3, 5, 10, 20, 50):
        conditions.append(coencode(f"random_words_{n}", "length", "random_passage", n=n))  # first n words of another passage
    conditions += [
        coencode("random_matched", "content", "random_word", match="query"),
        coencode("scrambled_oracle", "content", "shuffled", of="oracle"),
        coencode("repeat_the_10", "diversity", "repeat", n=10),
        coencode("keyword_x10", "diversity", "frequent_words", surrogate=" ".join(["{keyword}"] * 10), k=1),
    ]
    return plan("v3-exp2b", "T5Gemma structural vs semantic decomposition: prefix-length titration (random words), "
                "content ablation bare -> random (structure) -> scrambled oracle (vocabulary) -> oracle (semantics), "
                "token diversity ('the' x10, keyword x10, random words x10).",
                T5GEMMA, 500, conditions, "bare", "oracle",
                [pair("vocabulary", "scrambled_oracle", "random_matched"),
                 pair("semantics", "oracle", "scrambled_oracle"),
                 pair("length_1_vs_50", "random_words_1", "random_words_50"),
                 pair("repeat_vs_diverse", "repeat_the_10", "random_words_10"),
                 pair("keyword_vs_diverse", "keyword_x10", "random_words_10")],
                [{"a": "oracle", "b": "scrambled_oracle"}])


DOCUMENT_LENGTHS = (256, 384, 512, 1024, 2048)


def v3_03():
    conditions = []
    for n in DOCUMENT_LENGTHS:
        conditions += [coencode(f"bare_{n}", "bare", masked=False, document_tokens=n),
                       coencode(f"oracle_{n}", "oracle", "oracle", document_tokens=n),
                       coencode(f"static_fact_{n}", "static", "static", surrogate=FACTS, document_tokens=n)]
    return plan("v3-exp03", "T5Gemma long documents: does the co-encoding benefit decay with document length? Each "
                "sample's selected passage padded with its non-selected passages (then other samples' passages) to "
                "256, 384, 512, 1024 and 2048 tokens; oracle and a static fact phrase against the bare encoder at "
                "every length.",
                T5GEMMA, 200, conditions, "bare_256", "oracle_256",
                [pair(f"oracle_at_{n}", f"oracle_{n}", f"bare_{n}") for n in DOCUMENT_LENGTHS]
                + [pair(f"static_fact_at_{n}", f"static_fact_{n}", f"bare_{n}") for n in DOCUMENT_LENGTHS],
                [{"a": "oracle_256", "b": "oracle_2048"}])


def ranking_conditions(product=False):
    static = "What product is this?" if product else FACTS
    return [
        coencode("bare", "baselines", masked=False),
        coencode("oracle", "oracle", "oracle"),
        coencode("oracle_full", "oracle", "oracle", masked=False),
        coencode("static", "static", "static", surrogate=static),
        coencode("random_tokens", "structural", "random_tokens", n=8),
    ]


RANKING_CONTRASTS = [pair("oracle_vs_static", "oracle", "static"), pair("oracle_vs_random", "oracle", "random_tokens"),
                     pair("oracle_masked_vs_full", "oracle", "oracle_full")]


def v3_04a():
    return plan("v3-exp04a", "T5Gemma ranking by answer likelihood on MS MARCO: each query's passages (relevance = "
                "is_selected) ranked by the NLL of the gold answer given the co-encoded passage; does a surrogate "
                "sharpen the ranking (AUC, MRR@10, nDCG@10)?",
                T5GEMMA, 200, ranking_conditions(), "bare", "oracle", RANKING_CONTRASTS,
                ranking={"max_candidates": 10, "over_cap": "refuse"})


def v3_04b():
    return plan("v3-exp04b", "T5Gemma ranking by query likelihood on Amazon ESCI (small version, test split, US): each "
                "query's products (gains E/S/C/I = 1/0.1/0.01/0) ranked by the NLL of the query given the co-encoded "
                "product text.",
                T5GEMMA, 200, ranking_conditions(product=True), "bare", "oracle", RANKING_CONTRASTS,
                ranking={"max_candidates": 100, "over_cap": "split"},
                dataset_filters={"small_version": 1, "split": "test", "product_locale": "us"}, target="QUERY")


def v3_04_wands():
    return plan("v3-exp04-wands", "The query-likelihood ranking of v3-exp04b on WANDS (Wayfair; Exact/Partial/Irrelevant "
                "= 2/1/0): a second product-search collection with graded judgements and long candidate lists (split "
                "into WorkItems of at most 100 candidates).",
                T5GEMMA, 200, ranking_conditions(product=True), "bare", "oracle", RANKING_CONTRASTS,
                ranking={"max_candidates": 100, "over_cap": "split"}, target="QUERY")


# Generated surrogates (RESEARCH-FACTS.md "Surrogates"): the scoring model writes one query per template (dkv's own
# wording of the five styles, PromptTemplates.DEFAULTS), sampling at 0.3, at most 45 new tokens, first line, quotes
# stripped; all-MiniLM-L6-v2 cosine to the real query routes; best-of-5 is the hindsight oracle.
GEN_TEMPLATES = ["target_question", "keyword_query", "symptom_scenario", "misconception_negative", "messy_realworld"]
MISTRAL_GENERATION = {"model": MISTRAL["id"], "temperature": 0.3, "max_new_tokens": 45,
                      "embedder": "sentence-transformers/all-MiniLM-L6-v2"}
# the research's five generic static questions: definitional, procedural, quantitative, factual, problem-solving
STATIC_POOL = {"definitional": DEFINE, "procedural": "How does this work, step by step?",
               "quantitative": "How much, how many, or how long?", "factual": FACTS,
               "problem_solving": "How do I solve this problem?"}


def pools(make, suffix, **extra):
    """Five generated and five static conditions of one placement, and their names."""
    gen = [make(f"gen_{t}_{suffix}", "generated_pool", "generated", template=t, **extra) for t in GEN_TEMPLATES]
    static = [make(f"static_{k}_{suffix}", "static_pool", "static", surrogate=v, **extra) for k, v in STATIC_POOL.items()]
    return gen, static


def routed_and_best(prefix, members):
    names = [m["name"] for m in members]
    return [{"name": f"{prefix}_routed", "kind": "routed", "members": names},
            {"name": f"{prefix}_best_of", "kind": "best_of", "members": names}]


# dkv's default query template (PlanParser): what every answer-scored condition of these presets reads before the answer
QUERY_PROMPT = "\n\nQuestion: {query}\nAnswer:"


def query_nll_signal(member):
    """The routing signal of a pool member (lab notebook v1 exp 06's "query NLL"): the member's own cache, with the query
    prompt scored as the target instead of the answer. The notebook scored every token of the prompt but the first, which
    a reused cache has no logits for; here the prompt's leading blank line stands before the scored segment instead."""
    lead = QUERY_PROMPT[:len(QUERY_PROMPT) - len(QUERY_PROMPT.lstrip("\n"))]
    signal = dict(member, name=member["name"] + "_query_nll", group="pool_signals", target="QUERY",
                  query_free_template=lead, answer_template=QUERY_PROMPT[len(lead):].replace("{query}", "{answer}"))
    return signal


def pool_routers(prefix, members, signals):
    """The notebook's four pool routers over the same members: cosine, query NLL, their rank average, and the oracle."""
    names = [m["name"] for m in members]
    signal_names = [s["name"] for s in signals]
    return [{"name": f"{prefix}_routed", "kind": "routed", "members": names},
            {"name": f"{prefix}_routed_by_nll", "kind": "routed_by_nll", "members": names, "signals": signal_names},
            {"name": f"{prefix}_rank_average", "kind": "rank_average", "members": names, "signals": signal_names},
            {"name": f"{prefix}_best_of", "kind": "best_of", "members": names}]


def with_generation(p, generation, derived):
    p["generation"] = generation
    p["derived"] = derived
    return p


def v2_02_generated():
    framed_full = {"document_template": FRAMED, "separator": "\n\n"}
    gen, static = pools(full, "full", **framed_full)
    conditions = [c("framed_bare", "baselines", document_template=FRAMED),
                  full("oracle_full", "perfect", "oracle", **framed_full)] + gen + static
    return with_generation(plan(
        "v2-exp02", "Lab notebook exp 02: full-context priming with five generated (one per prompt style) and five static "
        "surrogates against the framed baseline; routed by query similarity (all-MiniLM-L6-v2) and hindsight best-of-5 per "
        "pool. Research: generated routed 69.2% win (d 0.39), static routed 66.7% (d 0.37), generated best-of-5 84.4%.",
        MISTRAL, 2500, conditions, "framed_bare", "oracle_full",
        [pair("generated_vs_static_routed", "generated_routed", "static_routed"),
         pair("routed_vs_best_of", "generated_routed", "generated_best_of")]),
        MISTRAL_GENERATION, routed_and_best("generated", gen) + routed_and_best("static", static))


def trunc_pools(experiment_id, description, samples, baseline_conditions, baseline, extra_contrasts=()):
    gen, static = pools(trunc, "trunc")
    conditions = baseline_conditions + [trunc("oracle_trunc", "perfect", "oracle")] + gen + static + [
        full("random_tokens_full", "controls", "random_tokens", n=8)]
    return with_generation(plan(
        experiment_id, description, MISTRAL, samples, conditions, baseline, "oracle_trunc",
        [pair("generated_vs_static_routed", "generated_routed", "static_routed"),
         pair("routed_vs_best_of", "generated_routed", "generated_best_of"),
         pair("generated_routed_vs_random_full", "generated_routed", "random_tokens_full")] + list(extra_contrasts)),
        MISTRAL_GENERATION, routed_and_best("generated", gen) + routed_and_best("static", static))


def v2_04_generated():
    return trunc_pools("v2-exp04-generated", "Lab notebook exp 04 with real pools: truncated prefixes with half-split RoPE "
                       "correction from five generated and five static surrogates and the perfect (real) query, routed by "
                       "query similarity and hindsight best-of-5 per pool, a full-context random control; the framing "
                       "artifact as a contrast.", 921,
                       [c("bare", "baselines"), c("framed_bare", "baselines", document_template=FRAMED)], "bare",
                       [pair("framing", "bare", "framed_bare")])


def v2_05_generated():
    return trunc_pools("v2-exp05-generated", "Lab notebook exp 05 (after the fixes: half-split RoPE, BOS kept) with real "
                       "pools: five generated and five static truncated prefixes, routed and best-of-5, the perfect query "
                       "and a full-context random control. Research (N=91): generated routed truncated 83.5% win, d 0.66.",
                       91, [c("bare", "baselines")], "bare")


def v2_06_generated():
    gen, static = pools(trunc, "trunc")
    bare = c("bare", "baselines")
    pool = [bare] + gen + static
    signals = [query_nll_signal(m) for m in pool]
    conditions = [
        bare,
        c("framed_bare", "baselines", document_template=FRAMED),
        trunc("generated_routed_trunc", "truncated", "generated", template="routed"),
        trunc("oracle_trunc", "truncated", "oracle"),
        trunc("irrelevant_trunc", "truncated", "irrelevant"),
        trunc("shuffled_trunc", "truncated", "shuffled", of="generated_routed_trunc"),
        trunc("random_passage_trunc", "truncated", "random_passage"),
        trunc("random_tokens_trunc", "truncated", "random_tokens", n=8),
        full("generated_routed_full", "full_context", "generated", template="routed"),
        full("oracle_full", "full_context", "oracle"),
        full("random_tokens_full", "full_context", "random_tokens", n=8),
    ] + gen + static + signals
    return with_generation(plan(
        "v2-exp06-generated", "Lab notebook exp 06 with real pools: is the truncated-prefix benefit semantic? The routed "
        "generated surrogate (most query-similar of five) against irrelevant, its own word shuffle, another passage and "
        "random tokens; full-context controls; the 11-cache pool (bare + 5 generated + 5 static) with the notebook's four "
        "routers: by query similarity (the bare cache by its passage's), by query NLL (each cache scored with the query "
        "prompt as target: 11 signal conditions), by the average of the two ranks, and by hindsight best-of. Research "
        "(N=677): generated routed vs bare p = 0.62, generated vs irrelevant p = 4e-4, framing d = -0.45; pool routers' "
        "agreement with the oracle 18.3% (cosine), 11.8% (query NLL), 17.3% (rank average).",
        MISTRAL, 677, conditions, "bare", "oracle_trunc",
        [pair("H2_semantic", "generated_routed_trunc", "irrelevant_trunc"),
         pair("H3_word_order", "generated_routed_trunc", "shuffled_trunc"),
         pair("H4_own_document", "generated_routed_trunc", "random_passage_trunc"),
         pair("H5_coherence", "generated_routed_trunc", "random_tokens_trunc"),
         pair("H6_full_context_semantic", "generated_routed_full", "random_tokens_full"),
         pair("framing", "bare", "framed_bare"),
         pair("pool_routed_vs_best_of", "pool_routed", "pool_best_of"),
         pair("pool_cosine_vs_query_nll", "pool_routed", "pool_routed_by_nll")],
        [{"a": "generated_routed_trunc", "b": "shuffled_trunc"}],
        data={"passage_words": [50, 300], "max_answer_passage_chars": 0.5, "min_answer_tokens": 2}),
        MISTRAL_GENERATION, pool_routers("pool", pool, signals))


# v3 exp 05: an instruction LLM (Gemma-2-9B-IT) writes short surrogates from three prompts, optionally repeated x4
V3_EXP05_TEMPLATES = {
    "need": "In a few words, what does someone who needs this text want to know?\n\nText: {document}",
    "question": "Write one short question that this text answers.\n\nText: {document}",
    "keywords": "Write 3 to 5 keywords for this text, separated by spaces.\n\nText: {document}",
}


def v3_05():
    gen = [coencode(f"gen_{t}", "generated", "generated", template=t) for t in V3_EXP05_TEMPLATES]
    repeated = [coencode(f"gen_{t}_x4", "generated_x4", "generated", template=t, repeat=4) for t in V3_EXP05_TEMPLATES]
    conditions = [coencode("bare", "baselines", masked=False), coencode("oracle", "oracle", "oracle")] + gen + repeated
    return with_generation(plan(
        "v3-exp05", "T5Gemma with LLM-written surrogates: an instruction model (Gemma-2-9B-IT, temperature 0.7, top-p 0.9, "
        "30 new tokens) writes a need, a question and keywords per passage, each co-encoded and masked, once and repeated "
        "x4; routed by query similarity and best-of-3.",
        T5GEMMA, 200, conditions, "bare", "oracle",
        [pair(f"{t}_x4_vs_once", f"gen_{t}_x4", f"gen_{t}") for t in V3_EXP05_TEMPLATES]
        + [pair("routed_vs_oracle", "generated_routed", "oracle")]),
        {"model": "google/gemma-2-9b-it", "templates": V3_EXP05_TEMPLATES, "temperature": 0.7, "top_p": 0.9,
         "max_new_tokens": 30, "embedder": "sentence-transformers/all-MiniLM-L6-v2"},
        routed_and_best("generated", gen))


PRESETS = {"v2-exp01": v2_01, "v2-exp04": v2_04, "v2-exp05": v2_05, "v2-exp06": v2_06, "v2-exp07": v2_07,
           "v2-exp08": v2_08, "v2-exp09": v2_09, "v3-exp01": v3_01, "v3-exp02": v3_02, "v3-exp2b": v3_2b,
           "v3-exp03": v3_03, "v3-exp04a": v3_04a, "v3-exp04b": v3_04b, "v3-exp04-wands": v3_04_wands,
           "v2-exp02": v2_02_generated, "v2-exp04-generated": v2_04_generated, "v2-exp05-generated": v2_05_generated,
           "v2-exp06-generated": v2_06_generated, "v3-exp05": v3_05}

if __name__ == "__main__":
    for name, build in PRESETS.items():
        (OUT / f"{name}.json").write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
        print(name, len(build()["conditions"]), "conditions")
    (OUT / "index.txt").write_text("\n".join(PRESETS) + "\n")
