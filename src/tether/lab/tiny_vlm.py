"""A tiny vision-language checkpoint built offline: Idefics3 (SmolVLM's architecture), randomly initialised.

A character tokenizer (`tether.lab.checkpoint.char_tokenizer`) with Idefics3's image tokens, a
32-pixel vision tower (16 patches, pixel-shuffled to 4 image tokens), a two-layer Llama text model
and the processor with a chat template that places each image part. Saved as a standard folder
it loads with `AutoProcessor` / `AutoModelForImageTextToText`, and vLLM serves the architecture,
so tests run a real VLM through every engine in seconds, with no download.
"""

from __future__ import annotations

from pathlib import Path

ALPHABET = "0123456789+=:-,.?!()/ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>{% elif p['type'] == 'text' %}{{ p['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<end_of_utterance> {% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
IMAGE_TOKENS = ("<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>",
                *(f"<row_{i}_col_{j}>" for i in range(1, 5) for j in range(1, 5)))


def tiny_vlm(folder: str | Path, *, seed: int = 0, image_size: int = 32, patch_size: int = 8) -> Path:
    """Build and save the tiny Idefics3 checkpoint (model, tokenizer, processor) in `folder`."""
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    from tether.lab.checkpoint import char_tokenizer

    tokenizer = char_tokenizer(ALPHABET, CHAT_TEMPLATE)
    tokenizer.add_special_tokens({"additional_special_tokens": list(IMAGE_TOKENS)})
    scale = 2
    vision = Idefics3VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  image_size=image_size, patch_size=patch_size)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=False)
    config = Idefics3Config(vision_config=vision.to_dict(), text_config=text.to_dict(), scale_factor=scale,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"), tie_word_embeddings=False,
                            pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    images = Idefics3ImageProcessorPil(size={"longest_edge": image_size}, max_image_size={"longest_edge": image_size},
                                       do_image_splitting=False)
    processor = Idefics3Processor(image_processor=images, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE,
                                  image_seq_len=(image_size // patch_size) ** 2 // scale**2)
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
