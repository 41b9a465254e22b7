"""Tiny standard Hugging Face checkpoints: a character tokenizer and a small Llama.

What the lab trains, and what tests use as a real model that loads like any
other (`AutoTokenizer`/`AutoModelForCausalLM` from a folder) in well under a
second.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def char_tokenizer(alphabet: str, chat_template: str | None = CHAT_TEMPLATE):
    """A fast tokenizer with one token per character of `alphabet` plus pad/bos/eos/unk."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(alphabet))
    vocab = {token: i for i, token in enumerate([*SPECIALS, *chars])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def tiny_llama(vocab_size: int, *, hidden: int = 64, layers: int = 2, heads: int = 4, seed: int = 0,
               max_positions: int = 256, eos_token_id: int = 2, pad_token_id: int = 0, bos_token_id: int = 1):
    """A small randomly initialised Llama (seeded)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=max_positions,
        eos_token_id=eos_token_id, pad_token_id=pad_token_id, bos_token_id=bos_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def save_checkpoint(model, tokenizer, folder: str | Path) -> Path:
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
