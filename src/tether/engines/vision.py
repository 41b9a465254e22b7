"""Vision-language models in the transformers engine: processor, chat template and image inputs.

A model folder whose config names an image-text-to-text architecture (LLaVA, Qwen2-VL, Idefics3,
SmolVLM, Gemma 3 ...) is loaded with its processor (`AutoProcessor`) and
`AutoModelForImageTextToText`; every other model stays a causal LM with its tokenizer. A task's
prompt names its images by digest (`tether.tasks.images`); a `Request` carries their bytes, which
the processor turns into the model's image inputs beside the rendered text. The rendered text is
the processor's chat template with the model's own image placeholders, the same for every seed.

Scoring (token entropy, perplexity, cross-likelihood) reads prompts back from the store, where they
name their images by digest: the stage that scores hands the engine the store's images through its
``image_source`` attribute (digest -> bytes, `tether.store.images.lend_images`), and the transformers
engine teacher-forces each completion after its prompt and pictures, one row at a time. The vllm and
openai engines refuse image prompts there in one line (`NOT_FOR_IMAGES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tether.errors import InputError
from tether.tasks.images import REF_PREFIX, Image, has_images, images_by_ref, prompt_image_refs
from tether.tasks.prompts import TEMPLATE_MODES, as_messages, render_prompt

__all__ = ["NOT_FOR_IMAGES", "ImageSource", "encode", "forward", "has_images", "is_vision_model", "load",
           "max_context", "openai_messages", "pictures", "refuse_images", "render"]

NOT_FOR_IMAGES = ("token entropy and cross-likelihood are not yet for image tasks on this engine: these prompts "
                  "hold images; score them with the transformers engine (--engine transformers)")
ImageSource = Callable[[str], bytes]  # an image's bytes from its sha256 hex digest


def is_vision_model(model_id: str, extra: dict) -> bool:
    """True when the folder's config is an image-text-to-text architecture transformers ships; for one that
    is a causal LM too (Gemma 3, Llama 4, Mllama ...), only with an image processor's config beside it."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    try:
        config = AutoConfig.from_pretrained(model_id, **{k: v for k, v in extra.items() if k == "revision"})
    except (OSError, ValueError):
        return False  # a GGUF folder or an unknown one: the text loader says what is wrong
    kind = getattr(config, "model_type", None)
    if kind not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return False
    return kind not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or _has_image_processor(model_id, extra)


def _has_image_processor(model_id: str, extra: dict) -> bool:
    from transformers.utils import cached_file

    for name in ("preprocessor_config.json", "processor_config.json"):
        try:
            if cached_file(model_id, name, revision=extra.get("revision"), _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False):
                return True
        except (OSError, ValueError):
            continue
    return False


def load(model_id: str, dtype: Any, extra: dict) -> tuple[Any, Any, Any]:
    """(processor, its tokenizer padding on the left, the model) of a vision-language checkpoint."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_id, **extra)
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is None:
        raise InputError(f"cannot load model {model_id!r}: its processor has no tokenizer")
    tokenizer.padding_side = "left"
    if getattr(tokenizer, "chat_template", None) is None and getattr(processor, "chat_template", None):
        tokenizer.chat_template = processor.chat_template  # text-only prompts render with the same template
    model = AutoModelForImageTextToText.from_pretrained(model_id, dtype=dtype, **extra)
    return processor, tokenizer, model


def max_context(config: Any) -> int | None:
    """The positions the language model holds (a VLM's config keeps them in its text config)."""
    for where in (config, getattr(config, "text_config", None)):
        found = getattr(where, "max_position_embeddings", None) or getattr(where, "n_positions", None)
        if found:
            return int(found)
    return None


def render(prompt: Any, processor: Any, mode: str) -> str:
    """The text a VLM sees: an image prompt through the chat template of `processor` (a processor, or a
    tokenizer holding the model's template: vLLM's) with its image placeholders where the prompt's image
    parts are; a text prompt as any model renders it."""
    if not has_images(prompt):
        return render_prompt(prompt, getattr(processor, "tokenizer", processor), mode)
    if mode not in TEMPLATE_MODES:
        raise InputError(f"template mode {mode!r}: expected one of {', '.join(TEMPLATE_MODES)}")
    if mode == "plain":
        raise InputError("--template plain: a prompt with images needs the model's chat template (it places the "
                         "image tokens); use --template auto or chat")
    if not getattr(processor, "chat_template", None):
        raise InputError("this model has no chat template to place a prompt's images: it is not a "
                         "vision-language model, or its folder lacks its template")
    return processor.apply_chat_template(as_messages(prompt), add_generation_prompt=True, tokenize=False)


def encode(processor: Any, texts: Sequence[str], prompts: Sequence[Any], images: Sequence[Sequence[Image]],
           dtype: Any):
    """The batch's inputs (left-padded ids, mask, pixel values in the model's dtype ...): each rendered
    text with the images its prompt names, in prompt order."""
    pictures = [[image.to_pil() for image in images_by_ref(prompt, given)] for prompt, given in zip(prompts, images)]
    if not any(pictures):
        return processor.tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
    kwargs = {"images": pictures if all(pictures) else [p for row in pictures for p in row]}
    encoded = processor(text=list(texts), return_tensors="pt", padding=True, add_special_tokens=False, **kwargs)
    return encoded.to(dtype)  # floating inputs only (pixel values); ids stay integers


def refuse_images(prompts: Sequence[Any]) -> None:
    """Scoring's one-line refusal of image prompts."""
    if any(has_images(prompt) for prompt in prompts):
        raise InputError(NOT_FOR_IMAGES)


def pictures(prompt: Any, images: Sequence[Image]) -> list[Any]:
    """The prompt's images as PIL pictures, in prompt order (vLLM's ``multi_modal_data``)."""
    return [image.to_pil() for image in images_by_ref(prompt, images)]


def openai_messages(prompt: Any, images: Sequence[Image]) -> list[dict[str, Any]]:
    """Chat messages as the OpenAI API takes them: each image part an ``image_url`` part with the
    image as a data URL (``data:image/png;base64,...``), in place."""
    messages = as_messages(prompt)
    if not has_images(prompt):
        return messages
    known = {image.ref: image for image in images_by_ref(prompt, images)}
    return [{**message, "content": [{"type": "image_url", "image_url": {"url": known[part["image"]].data_url()}}
                                    if isinstance(part, dict) and part.get("type") == "image" else part
                                    for part in message["content"]]}
            if isinstance(message.get("content"), list) else message for message in messages]


def source_images(prompt: Any, source: ImageSource | None) -> list[Image]:
    """The images a stored prompt names, from `source`; scoring without one is refused in one line."""
    refs = prompt_image_refs(prompt)
    if refs and source is None:
        raise InputError("scoring a prompt with images needs its images: this engine was not given the store's "
                         "(tether.store.images.lend_images)")
    return [Image.of(source(ref.removeprefix(REF_PREFIX))) for ref in refs] if refs else []


def forward(engine: Any, items: Sequence[tuple[Any, list[int]]]):
    """The transformers engine's teacher-forced pass for prompts with images: each rendered prompt with its
    pictures (the processor's inputs), then its completion's token ids, one row at a time, left-padded into
    one batch as the text path returns it: (ids, logits, width)."""
    import torch

    rows = []
    for prompt, completion in items:
        encoded = encode(engine.processor, [engine.render(prompt)], [prompt],
                         [source_images(prompt, engine.image_source)], engine.torch_dtype).to(engine.device)
        ids = torch.cat([encoded["input_ids"][0], torch.tensor(completion, dtype=torch.long, device=engine.device)])
        extra = {key: value for key, value in encoded.items() if key not in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            logits = engine.model(input_ids=ids[None], attention_mask=torch.ones_like(ids)[None], **extra).logits[0]
        rows.append((ids, logits))
    width = max(len(ids) for ids, _ in rows)
    pad = engine.tokenizer.pad_token_id
    ids = torch.stack([torch.cat([torch.full((width - len(row),), pad, device=engine.device), row])
                       for row, _ in rows])
    logits = torch.stack([torch.cat([logits.new_zeros(width - len(logits), logits.shape[-1]), logits])
                          for _, logits in rows])
    return ids, logits, width
