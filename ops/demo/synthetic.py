"""Synthetic MS MARCO-shaped samples about made-up entities.

Shared by make_samples.py (the bundled demo set) and train_tiny_llama.py (the training corpus), so
both speak exactly the same language. Every passage describes one invented entity in an introduction
and 4-6 more sentences, each stating a different attribute; the query asks for one of those attributes and the
answer is its value. Because the other sentences hold the values of the other attributes, the
answer depends on the query, not only on the passage.

Entity names are split into two disjoint pools by a hash of the name (``pool='demo'`` vs
``pool='train'``), so the model never trains on an entity the demo scores.
"""

import random
import zlib

ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "th",
          "v", "z", "h", "c", "ch", "sh", "tr", "pl", "sl", "w"]
VOWELS = ["a", "e", "i", "o", "u", "ae", "ia", "ou", "y", "ei"]
CODAS = ["", "", "", "n", "r", "l", "s", "th", "m", "k", "x", "nd", "rt"]

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "silver", "gold",
           "crimson", "violet"]
LANGUAGES = ["Orvish", "Talmic", "Serenic", "Dravian", "Kelish", "Umbric", "Vandric", "Poleth"]
CURRENCIES = ["crown", "mark", "florin", "shilling", "dinar", "talent", "groat", "ducat"]
ANIMALS = ["heron", "lynx", "otter", "falcon", "stag", "wolf", "badger", "crane", "tortoise", "owl"]
PRODUCTS = ["glass lamps", "steam engines", "silk rope", "clocks", "river boats", "paper maps",
            "copper wire", "wool coats", "printing presses", "bicycles"]
METALS = ["copper", "tin", "iron", "silver", "zinc", "cobalt", "nickel", "lead"]
SEASONS = ["spring", "summer", "autumn", "winter"]


def _syllable(rng):
    return rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)


def _word(rng, syllables):
    return "".join(_syllable(rng) for _ in range(syllables)).capitalize()


def _in_pool(name, pool):
    # A fixed hash (not Python's salted hash) keeps the split identical across runs and machines.
    is_demo = zlib.crc32(name.encode()) % 8 == 0
    return is_demo if pool == "demo" else not is_demo


def _entity_name(rng, pool, used):
    while True:
        name = _word(rng, rng.choice([2, 2, 2, 3]))
        if name not in used and _in_pool(name, pool):
            used.add(name)
            return name


FIRST_NAMES = ["Anna", "Tomas", "Mira", "Oskar", "Lena", "Ivo", "Petra", "Jonas", "Elsa", "Karl", "Nina", "Otto",
               "Rosa", "Emil", "Vera", "Hugo"]


def _person(rng):
    return rng.choice(FIRST_NAMES) + " " + _word(rng, rng.choice([1, 2]))


def _place(rng):
    return _word(rng, rng.choice([1, 2]))


# Each attribute: value maker, passage sentences (one picked), queries (one picked), MS MARCO query_type.
# {e} is the entity's full name, {v} the value.
COUNTRY = {
    "kind": "the kingdom of {n}",
    "intro": ["{E} is a small realm in the northern hills.", "{E} is an old realm by the sea.",
              "{E} is a mountain realm with many villages."],
    "attributes": {
        "capital": (lambda r: _place(r),
                    ["The capital of {e} is {v}.", "Its capital city is {v}."],
                    ["what is the capital of {e}", "capital city of {e}"], "LOCATION"),
        "founder": (lambda r: _person(r),
                    ["The kingdom was founded by {v}.", "{v} founded the kingdom."],
                    ["who founded {e}", "founder of {e}"], "PERSON"),
        "year": (lambda r: str(r.randint(1100, 1899)),
                 ["It was founded in {v}.", "The kingdom dates from the year {v}."],
                 ["what year was {e} founded", "when was {e} founded"], "NUMERIC"),
        "colour": (lambda r: r.choice(COLOURS),
                   ["The flag of {e} is {v}.", "Its flag is plain {v}."],
                   ["what colour is the flag of {e}", "colour of the flag of {e}"], "DESCRIPTION"),
        "river": (lambda r: _place(r),
                  ["The main river of {e} is the {v}.", "The {v} river runs through the kingdom."],
                  ["what is the main river of {e}", "which river runs through {e}"], "LOCATION"),
        "language": (lambda r: r.choice(LANGUAGES),
                     ["People in {e} speak {v}.", "The official language is {v}."],
                     ["what language is spoken in {e}", "official language of {e}"], "ENTITY"),
        "currency": (lambda r: r.choice(CURRENCIES),
                     ["The currency of {e} is the {v}.", "Trade there is paid in the {v}."],
                     ["what is the currency of {e}", "what money is used in {e}"], "ENTITY"),
        "animal": (lambda r: r.choice(ANIMALS),
                   ["The national animal of {e} is the {v}.", "Its symbol is the {v}."],
                   ["what is the national animal of {e}", "which animal is the symbol of {e}"], "ENTITY"),
    },
}

COMPANY = {
    "kind": "the {n} company",
    "intro": ["{E} is a trading firm.", "{E} is a family business.",
              "{E} is a workshop known across the region."],
    "attributes": {
        "founder": (lambda r: _person(r),
                    ["{E} was started by {v}.", "{v} founded the firm."],
                    ["who started {e}", "founder of {e}"], "PERSON"),
        "year": (lambda r: str(r.randint(1700, 1999)),
                 ["It opened in {v}.", "The firm was started in the year {v}."],
                 ["what year did {e} open", "when was {e} started"], "NUMERIC"),
        "city": (lambda r: _place(r),
                 ["Its head office is in {v}.", "{E} is based in the town of {v}."],
                 ["where is {e} based", "in which town is {e} based"], "LOCATION"),
        "colour": (lambda r: r.choice(COLOURS),
                   ["The logo of the firm is {v}.", "Its logo is painted {v}."],
                   ["what colour is the logo of {e}", "colour of {e} logo"], "DESCRIPTION"),
        "product": (lambda r: r.choice(PRODUCTS),
                    ["{E} makes {v}.", "Its main product is {v}."],
                    ["what does {e} make", "main product of {e}"], "DESCRIPTION"),
        "metal": (lambda r: r.choice(METALS),
                  ["Most of its tools are made of {v}.", "The firm buys {v} from the mines."],
                  ["which metal does {e} use", "what metal are the tools of {e} made of"], "ENTITY"),
    },
}

LAKE = {
    "kind": "Lake {n}",
    "intro": ["{E} is a deep lake in a green valley.", "{E} is a cold lake high in the mountains."],
    "attributes": {
        "town": (lambda r: _place(r),
                 ["The town of {v} lies on its shore.", "The largest town on {e} is {v}."],
                 ["what town lies on {e}", "largest town on the shore of {e}"], "LOCATION"),
        "depth": (lambda r: str(r.randint(12, 480)),
                  ["{E} is {v} metres deep.", "At its deepest point it reaches {v} metres."],
                  ["how deep is {e} in metres", "what is the depth of {e}"], "NUMERIC"),
        "fish": (lambda r: r.choice(["trout", "pike", "perch", "carp", "salmon", "eel", "bream"]),
                 ["Fishermen on {e} mostly catch {v}.", "The lake is known for its {v}."],
                 ["what fish is caught in {e}", "which fish is {e} known for"], "ENTITY"),
        "season": (lambda r: r.choice(SEASONS),
                   ["{E} freezes over every {v}.", "Visitors come to {e} mostly in {v}."],
                   ["in which season do visitors come to {e}", "what season does {e} freeze"], "DESCRIPTION"),
        "discoverer": (lambda r: _person(r),
                       ["{E} was first mapped by {v}.", "{v} was the first to map the lake."],
                       ["who first mapped {e}", "who discovered {e}"], "PERSON"),
        "colour": (lambda r: r.choice(COLOURS),
                   ["The water of {e} looks {v}.", "In summer the lake turns {v}."],
                   ["what colour is the water of {e}", "what colour does {e} turn in summer"], "DESCRIPTION"),
    },
}

KINDS = [COUNTRY, COMPANY, LAKE]


def _fill(template, entity, value):
    return template.format(e=entity, E=entity[0].upper() + entity[1:], v=value)


def make_sample(rng, pool, used, index, id_prefix):
    """One sample: a passage of 4-6 attribute sentences about a fresh entity and a query for one attribute."""
    kind = rng.choice(KINDS)
    entity = kind["kind"].format(n=_entity_name(rng, pool, used))
    names = list(kind["attributes"])
    chosen = rng.sample(names, rng.randint(4, 6))
    # Values are drawn until they differ, so no other sentence of the passage holds the asked value.
    values = {}
    for name in chosen:
        make = kind["attributes"][name][0]
        value = make(rng)
        while value in values.values():
            value = make(rng)
        values[name] = value
    sentences = [_fill(rng.choice(kind["intro"]), entity, "")]
    sentences += [_fill(rng.choice(kind["attributes"][name][1]), entity, values[name]) for name in chosen]
    asked = rng.choice(chosen)
    _, _, queries, query_type = kind["attributes"][asked]
    sample = {
        "id": f"{id_prefix}-{index:05d}",
        "query": _fill(rng.choice(queries), entity, ""),
        "passage": " ".join(sentences),
        "answer": values[asked],
        "query_type": query_type,
    }
    # Questions about the passage's other attributes (training only): a private RNG keyed by the sample
    # id, so asking for them leaves the main stream, and therefore every sample, unchanged.
    extra_rng = random.Random(sample["id"])
    others = [name for name in chosen if name != asked]
    extra_rng.shuffle(others)
    extra = [(_fill(extra_rng.choice(kind["attributes"][name][2]), entity, ""), values[name]) for name in others]
    return sample, extra


def make_samples(n, seed, pool, id_prefix):
    """n samples in the generic JSONL shape {id, query, passage, answer, query_type}."""
    return [sample for sample, _ in make_samples_with_other_questions(n, seed, pool, id_prefix)]


def make_samples_with_other_questions(n, seed, pool, id_prefix):
    """(sample, [(query, answer) for the passage's other attributes]) pairs; same samples as make_samples."""
    rng = random.Random(seed)
    used = set()
    return [make_sample(rng, pool, used, i, id_prefix) for i in range(n)]
