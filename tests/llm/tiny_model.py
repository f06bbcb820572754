"""Tiny Llama models and a word-level tokenizer built in the test (no
downloads): one randomly initialised, one 'wired' so that generation
deterministically emits a given token chain (a bigram machine: attention
and MLP outputs are zero, the embedding is one-hot and the LM head maps
each token to its successor). The wired model exercises the real path —
chat template, `generate`, decoding, tool-call parsing — with a known
output; the random one shows that garbage is caught."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n# Tools\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}<|im_end|>\n{% endif %}"
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content %}{{ m.content }}{% endif %}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>\n{{ {'name': c.function.name, 'arguments': c.function.arguments} | tojson }}\n</tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
WORDS = ["system", "user", "assistant", "tool", "#", "Tools", "<tool_call>", "</tool_call>", "ECG", "QTc", "the", "was"]


def build_tokenizer(extra_words: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for w in SPECIALS + WORDS + extra_words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    tok.add_special_tokens(SPECIALS)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>")
    hf.chat_template = CHAT_TEMPLATE
    return hf


def _config(vocab_size: int, hidden: int, tok):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1,
                       num_attention_heads=1, num_key_value_heads=1, head_dim=hidden, max_position_embeddings=16384,
                       tie_word_embeddings=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                       bos_token_id=None)  # fmt: skip


def build_random_model(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    tok = build_tokenizer(["{", "}"])
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_config(len(tok), 16, tok))
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def build_wired_model(folder: Path, chain: list[str]) -> Path:
    """Generation after '<|im_start|>assistant' emits `chain` then EOS.
    Chain tokens must be unique and contain no whitespace."""
    import torch
    from transformers import LlamaForCausalLM

    assert len(set(chain)) == len(chain), "a bigram chain needs unique tokens"
    tok = build_tokenizer(chain)
    v = len(tok)
    hidden = v + v % 2  # RoPE needs an even head dimension
    model = LlamaForCausalLM(_config(v, hidden, tok))
    ids = [tok.convert_tokens_to_ids(t) for t in ["assistant", *chain, "<|im_end|>"]]
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.model.embed_tokens.weight[:, :v] = torch.eye(v)
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        eos = tok.eos_token_id
        model.lm_head.weight[eos, :] = 1.0  # every token's default successor: end
        for a, b in zip(ids, ids[1:]):
            model.lm_head.weight[b, a] = 50.0
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder
