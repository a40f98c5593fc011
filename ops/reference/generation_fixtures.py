"""Reference fixtures for text generation (scorers/src/test/java/dkv/scorers/generate/).

Reuses the tiny random models that llama_fixtures.py and t5gemma2_fixtures.py wrote under
scorers/src/test/resources/fixtures/ (llama, qwen2 — no BOS —, mistral and gemma3; no model is built here) and records:

- expected.json: per model, HF `generate` greedy new tokens for a few raw prompts (the tokenizer's BOS, no chat
  template): each prompt alone (batch 1), and all prompts in one call with left padding (HF's way); the new tokens
  end at the first EOS, inclusive. Plus, for llama, the same for prompts wrapped as one user turn by the Llama-2
  template (apply_chat_template(tokenize=True) ids), which is what `dkv generate --chat` does.
- chat.json: real-shaped chat templates (Llama-2 [INST] with <<SYS>>, Mistral-Instruct [INST], Qwen2 ChatML, Gemma 3)
  and HF `apply_chat_template(..., tokenize=False)` renderings of a few conversations, or HF's error message where
  the template refuses one (raise_exception).

Run with the reference venv (ops/reference/README.md):  /opt/refvenv/bin/python ops/reference/generation_fixtures.py
"""
import argparse
import json
import os

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

import llama_fixtures as lf  # noqa: E402  (the samples the tiny tokenizers were trained on)

MAX_NEW_TOKENS = 12

PROMPTS = [
    "Question: " + lf.SAMPLES[0]["query"] + "\nAnswer:",
    lf.SAMPLES[1]["passage"],
    "boiling point",
    lf.SAMPLES[2]["passage"] + "\n\nQuestion: " + lf.SAMPLES[2]["query"] + "\nAnswer:",
]

# ------------------------------------------------------------------------------------------------ chat templates
# Written in the shape of the published templates (tokenizer_config.json "chat_template" of the instruct models).

LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}")

MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}")

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

GEMMA3 = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

TEMPLATES = [
    ("llama2", LLAMA2, "<s>", "</s>"),
    ("mistral", MISTRAL, "<s>", "</s>"),
    ("chatml", CHATML, "<|endoftext|>", "<|im_end|>"),
    ("gemma3", GEMMA3, "<bos>", "<eos>"),
]

SURROGATE_TURN = ("Write one natural question, 5 to 12 words, that this text answers. Reply with the question only."
                  "\n\nText: " + lf.SAMPLES[0]["passage"])

CONVERSATIONS = [
    [{"role": "user", "content": SURROGATE_TURN}],
    [{"role": "user", "content": "  who wrote the origin of species?  "}],
    [{"role": "system", "content": "You write search queries."}, {"role": "user", "content": "boil an egg"}],
    [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "a query about eggs, please"}],
    [{"role": "assistant", "content": "I speak first"}],  # refused by the alternating-roles templates
]


def tokenizer_for(model_dir, bos, eos, template=None):
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"), bos_token=bos, eos_token=eos)
    if template is not None:
        tok.chat_template = template
    return tok


def chat_fixture():
    out = []
    for name, template, bos, eos in TEMPLATES:
        tok = tokenizer_for(os.path.join(FIXTURES, "llama"), bos, eos, template)
        cases = []
        for messages in CONVERSATIONS:
            for gen_prompt in (True, False):
                case = {"messages": messages, "add_generation_prompt": gen_prompt}
                try:
                    case["rendered"] = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen_prompt)
                except Exception as e:  # jinja2 TemplateError from raise_exception
                    case["error"] = str(e)
                cases.append(case)
        out.append({"name": name, "template": template, "bos_token": bos, "eos_token": eos, "cases": cases})
    return out


def new_tokens(row, eos):
    row = [int(t) for t in row]
    for i, t in enumerate(row):
        if t in eos:
            return row[:i + 1]
    return row


def generate(model, tok, prompts, eos, add_special_tokens=True):
    """Greedy new tokens of each prompt alone, and of all of them in one left-padded call."""
    alone = []
    for p in prompts:
        ids = tok(p, add_special_tokens=add_special_tokens, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=sorted(eos),
                             pad_token_id=0)
        alone.append(new_tokens(out[0, ids.input_ids.shape[1]:], eos))
    tok.padding_side = "left"
    tok.pad_token_id = 0
    batch = tok(prompts, add_special_tokens=add_special_tokens, return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=sorted(eos), pad_token_id=0)
    batched = [new_tokens(r, eos) for r in out[:, batch.input_ids.shape[1]:]]
    ids = [tok(p, add_special_tokens=add_special_tokens).input_ids for p in prompts]
    return ids, alone, batched


def model_fixture(name, bos, eos_token):
    model_dir = os.path.join(FIXTURES, name)
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager", dtype=torch.float32).eval()
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    tok = tokenizer_for(model_dir, bos, eos_token)
    ids, alone, batched = generate(model, tok, PROMPTS, eos)
    rec = {"prompts": PROMPTS, "prompt_ids": ids, "eos": sorted(eos), "max_new_tokens": MAX_NEW_TOKENS,
           "alone": alone, "batched": batched}
    if name == "llama":
        tok = tokenizer_for(model_dir, bos, eos_token, LLAMA2)
        chats = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
                 for p in PROMPTS[:2]]
        cids, calone, cbatched = generate(model, tok, chats, eos, add_special_tokens=False)
        rec["chat"] = {"template": "llama2", "prompts": PROMPTS[:2], "rendered": chats, "prompt_ids": cids,
                       "alone": calone, "batched": cbatched}
    agree = sum(a == b for a, b in zip(alone, batched))
    print(f"{name}: {len(PROMPTS)} prompts, lengths {[len(i) for i in ids]}, new tokens {[len(a) for a in alone]},"
          f" batched equal to alone for {agree}/{len(PROMPTS)}")
    return rec


def main():
    global FIXTURES
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "scorers/src/test/resources/fixtures"))
    args = ap.parse_args()
    FIXTURES = os.path.abspath(args.fixtures)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    out = os.path.join(FIXTURES, "generation")
    os.makedirs(out, exist_ok=True)
    models = {name: model_fixture(name, bos, eos) for name, bos, eos in
              [("llama", "<s>", "</s>"), ("qwen2", None, "</s>"), ("mistral", "<s>", "</s>"), ("gemma3", "<bos>", "<eos>")]}
    meta = {"generator": "ops/reference/generation_fixtures.py", "torch": torch.__version__,
            "transformers": __import__("transformers").__version__}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({**meta, "models": models}, f, indent=1)
    with open(os.path.join(out, "chat.json"), "w") as f:
        json.dump({**meta, "templates": chat_fixture()}, f, indent=1)
    print("chat templates:", [t[0] for t in TEMPLATES])


FIXTURES = None

if __name__ == "__main__":
    main()
