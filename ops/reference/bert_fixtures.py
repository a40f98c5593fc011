#!/usr/bin/env python3
"""Reference fixtures for the BERT sentence encoder (dkv embed), computed with HF transformers' BertModel.

Builds a tiny WordPiece tokenizer whose vocabulary comes from the fixture texts and a tiny random BERT
(2 layers, hidden 32, intermediate 40, perturbed LayerNorms), saved as sentence-transformers snapshots are on the Hub
(all-MiniLM-L6-v2's layout): config.json + model.safetensors from save_pretrained, tokenizer.json whose own
truncation (8) and padding (fixed 32) settings differ from sentence_bert_config.json's max_seq_length (24),
modules.json listing Transformer, Pooling (legacy pooling_mode_* keys, mean) and Normalize (no 2_Normalize
folder, as on the Hub). Expected embeddings: HF tokenizer (truncation at max_seq_length) -> BertModel (eager,
float32, CPU) -> mean over the attention mask ([CLS] and [SEP] included) -> L2 normalisation, all texts in one
padded batch; checked against each text run alone and against SentenceTransformer(dir).encode
(sentence-transformers 6.0.1, required).

Two more snapshots of the same encoder must embed exactly as bert/: bert_prefixed/, saved as BertForMaskedLM
(weight names under "bert.", an MLM head the encoder ignores), and bert_st6/, bert/ loaded and saved again by
sentence-transformers 6 (pooling_mode "mean", max_seq_length moved into tokenizer_config.json's
model_max_length, a 2_Normalize folder). embeddings.json also holds CLS and max pooling of the same hidden
states, for a Java test that rewrites the pooling config.

Java checks: dkv.scorers.model.bert.BertFamilyTest and dkv.cli.EmbedCommandTest (within 1e-5).

Run:  /opt/refvenv/bin/python ops/reference/bert_fixtures.py [--out scorers/src/test/resources/fixtures]
"""
import argparse
import json
import os
import shutil

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertModel, PreTrainedTokenizerFast

SEED = 20261207
MAX_SEQ_LENGTH = 24        # sentence_bert_config.json: what sentence-transformers truncates at
TOKENIZER_TRUNCATION = 8   # tokenizer.json's own truncation, which an encoder must not use
TOKENIZER_PADDING = 32     # tokenizer.json's own fixed padding, likewise

LONG = ("The boiling point of water depends on the air pressure above it, so at sea level water boils at one "
        "hundred degrees Celsius while on a high mountain it boils at a lower temperature and cooking an egg "
        "takes longer than it does in a kitchen by the sea.")

# id -> text: lengths from [CLS][SEP] alone up to far past MAX_SEQ_LENGTH, an unknown character, accents.
TEXTS = [
    ("q1", "what is the boiling point of water at sea level"),
    ("s1", "Water boils at 100 degrees Celsius at sea level."),
    ("s2", "Charles Darwin wrote On the Origin of Species in 1859."),
    ("s3", "boiled eggs"),
    ("long", LONG),
    ("empty", ""),
    ("unk", "a snowman \u2603 in the kitchen"),
    ("accents", "Caf\u00e9 na\u00efve r\u00e9sum\u00e9: hard boiled eggs"),
]

# Training text for the WordPiece vocabulary (the snowman is left out on purpose, so it becomes [UNK]).
CORPUS = [t for _, t in TEXTS if "\u2603" not in t] + [
    "a snowman in the kitchen",
    "natural selection evolution species populations generations published theory book",
    "minutes soft hard cold water peeling cooking recipe time temperature altitude mountain",
]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tokenizer():
    """A WordPiece vocabulary built from the fixture corpus (tokenizers' WordPieceTrainer breaks ties differently on
    every run, so the vocabulary is chosen here): the specials, every character alone and as a "##" continuation,
    a few suffixes, and the words seen at least twice. Rarer words split into pieces, as real WordPiece does."""
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                            lowercase=True)  # uncased, like all-MiniLM-L6-v2 (accents stripped)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts = {}
    for text in CORPUS:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({c for w in counts for c in w})
    pieces = chars + ["##" + c for c in chars] + ["##s", "##ed", "##ing", "##er"]
    words = sorted(w for w, n in counts.items() if n >= 2 and len(w) > 1)
    vocab = {t: i for i, t in enumerate(dict.fromkeys(SPECIALS + pieces + words))}  # "##s" is both a char and a suffix
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece(prefix="##")
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    assert tok.token_to_id("\u2603") is None
    return tok


def perturb(model, generator):
    """Random weights large enough that texts embed far apart; LayerNorms away from (1, 0) so they matter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape, generator=generator))
            elif "embeddings" in name:
                p.copy_(0.8 * torch.randn(p.shape, generator=generator))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_sentence_transformers_files(d, hidden):
    """The files sentence-transformers 2.x wrote for all-MiniLM-L6-v2 (what users download)."""
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    write_json(os.path.join(d, "config_sentence_transformers.json"),
               {"__version__": {"sentence_transformers": "2.0.0", "transformers": "4.6.1", "pytorch": "1.8.1"}})


def save_tokenizer(tok, d):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", mask_token="[MASK]", model_max_length=512)
    fast.save_pretrained(d)
    # tokenizer.json as on the Hub: its own truncation and fixed padding, which callers override
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.enable_truncation(TOKENIZER_TRUNCATION)
    tok.enable_padding(length=TOKENIZER_PADDING, pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    tok.save(os.path.join(d, "tokenizer.json"))


def hf_embeddings(d, texts, pooling="mean"):
    """HF reference: BertModel's last hidden state, pooled over the attention mask, L2-normalised."""
    tokenizer = AutoTokenizer.from_pretrained(d)
    model = BertModel.from_pretrained(d, attn_implementation="eager").eval()
    enc = tokenizer(texts, padding=True, truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    elif pooling == "cls":
        pooled = hidden[:, 0]
    else:
        pooled = hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values
    lengths = enc["attention_mask"].sum(1).tolist()
    ids = [enc["input_ids"][i, :n].tolist() for i, n in enumerate(lengths)]
    return F.normalize(pooled, p=2, dim=-1), ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="scorers/src/test/resources/fixtures")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)

    main_dir = os.path.join(args.out, "bert")
    prefixed_dir = os.path.join(args.out, "bert_prefixed")
    st6_dir = os.path.join(args.out, "bert_st6")
    for d in (main_dir, prefixed_dir, st6_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    tok = build_tokenizer()
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=40, max_position_embeddings=48, type_vocab_size=2, hidden_act="gelu",
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12,
                        pad_token_id=0)
    model = BertModel(config).eval()
    perturb(model, generator)
    model.save_pretrained(main_dir)
    save_tokenizer(tok, main_dir)
    write_sentence_transformers_files(main_dir, config.hidden_size)

    # the same encoder under BertForMaskedLM: "bert."-prefixed names, an MLM head, no pooler
    mlm = BertForMaskedLM(config).eval()
    missing, unexpected = mlm.bert.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith("pooler.")}, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    mlm.save_pretrained(prefixed_dir)
    save_tokenizer(tok, prefixed_dir)
    write_sentence_transformers_files(prefixed_dir, config.hidden_size)

    texts = [t for _, t in TEXTS]
    embeddings, ids = hf_embeddings(main_dir, texts)
    assert len(ids[texts.index(LONG)]) == MAX_SEQ_LENGTH, "the long text must be truncated"
    assert len(set(len(i) for i in ids)) >= 5, "texts of different lengths in one batch"
    # one padded batch equals every text alone
    for i, t in enumerate(texts):
        alone, _ = hf_embeddings(main_dir, [t])
        assert torch.allclose(alone[0], embeddings[i], atol=1e-6), t
    prefixed, prefixed_ids = hf_embeddings(prefixed_dir, texts)
    assert prefixed_ids == ids and torch.equal(prefixed, embeddings), "bert_prefixed embeds like bert"
    # dissimilar enough that cosine similarities are informative
    cos = embeddings @ embeddings.T
    assert cos[~torch.eye(len(texts), dtype=torch.bool)].max() < 0.99, cos

    # sentence-transformers' own encode, on the Hub-style snapshots and on its re-save of bert/
    SentenceTransformer(main_dir, device="cpu").save(st6_dir)
    os.remove(os.path.join(st6_dir, "README.md"))  # a generated model card: versions and dates, no model content
    st_diff = 0.0
    for d in (main_dir, prefixed_dir, st6_dir):
        st = SentenceTransformer(d, device="cpu")
        assert st.max_seq_length == MAX_SEQ_LENGTH, st.max_seq_length
        got = torch.from_numpy(st.encode(texts, batch_size=len(texts)))
        diff = (got - embeddings).abs().max().item()
        assert diff < 1e-6, (d, diff)
        st_diff = max(st_diff, diff)
    print(f"sentence-transformers encode: max |diff| {st_diff:.2e}")
    cls, _ = hf_embeddings(main_dir, texts, "cls")
    maxed, _ = hf_embeddings(main_dir, texts, "max")

    write_json(os.path.join(main_dir, "embeddings.json"), {
        "max_seq_length": MAX_SEQ_LENGTH,
        "reference": "transformers BertModel (eager, float32, CPU) + mean pooling + L2 normalisation",
        "sentence_transformers_max_abs_diff": st_diff,
        "texts": [{"id": i, "text": t, "tokens": len(x), "ids": x, "embedding": e, "cls_embedding": c, "max_embedding": m}
                  for (i, t), x, e, c, m in zip(TEXTS, ids, embeddings.tolist(), cls.tolist(), maxed.tolist())],
    })
    for d in (main_dir, prefixed_dir, st6_dir):
        print(d, sorted(os.listdir(d)))


if __name__ == "__main__":
    main()
