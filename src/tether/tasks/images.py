"""Images in task prompts: one `Image` per picture, named by the sha256 of its bytes.

A vision task's prompt is chat messages whose image parts hold ``"sha256:<digest>"``, not the
bytes: the prompt, and so the task's identity, changes when one pixel changes, while the bytes
travel beside it in `Task.images` and are stored once per digest in the store. Engines resolve
the digests back to bytes (`images_by_ref`) when they build a model's inputs.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.errors import InputError

REF_PREFIX = "sha256:"

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


@dataclass(frozen=True)
class Image:
    """One encoded image (PNG, JPEG, ...) as given, and the sha256 hex of its bytes."""

    digest: str
    data: bytes
    mime: str

    @property
    def ref(self) -> str:
        """How a prompt names this image: ``sha256:<digest>``."""
        return REF_PREFIX + self.digest

    @classmethod
    def of(cls, data: bytes, mime: str | None = None) -> Image:
        return cls(hashlib.sha256(data).hexdigest(), data, mime or sniff_mime(data))

    def to_pil(self) -> Any:
        """The decoded picture, RGB (needs pillow)."""
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(self.data)) as picture:
            return picture.convert("RGB")

    def data_url(self) -> str:
        import base64

        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def sniff_mime(data: bytes) -> str:
    """The media type from the first bytes (PNG, JPEG, GIF, BMP, WebP); else an `InputError`."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise InputError(f"image of {len(data)} bytes: not PNG, JPEG, GIF, BMP or WebP")


def image_from(value: Any) -> Image:
    """An `Image` from bytes, a file path, a PIL image (saved as PNG) or a ``datasets`` image
    dict (``{"bytes": ..., "path": ...}``)."""
    if isinstance(value, Image):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Image.of(bytes(value))
    if isinstance(value, dict):
        if value.get("bytes"):
            return Image.of(bytes(value["bytes"]))
        if value.get("path"):
            return image_from(Path(value["path"]))
        raise InputError("image dict with neither 'bytes' nor 'path'")
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise InputError(f"image {str(value)[:120]!r}: no such file")
        return Image.of(path.read_bytes())
    if hasattr(value, "save") and hasattr(value, "mode"):  # a PIL image, without importing pillow here
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return Image.of(buffer.getvalue(), "image/png")
    raise InputError(f"image of type {type(value).__name__}: expected bytes, a path, a PIL image or "
                     "a datasets image {'bytes', 'path'}")


def images_from(value: Any) -> tuple[Image, ...]:
    """One image or a list of them (an image column may hold either; None or [] is no image)."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(image_from(item) for item in value if item is not None)
    return (image_from(value),)


def vision_prompt(text: str, images: Sequence[Image]) -> list[dict[str, Any]]:
    """One user message: the images (by reference) first, then the text."""
    content: list[dict[str, Any]] = [{"type": "image", "image": image.ref} for image in images]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


def prompt_image_refs(prompt: Any) -> list[str]:
    """The ``sha256:`` references a prompt's image parts hold, in order (none for text prompts)."""
    if isinstance(prompt, str):
        return []
    refs = []
    for message in prompt:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            refs += [part["image"] for part in content if isinstance(part, dict) and part.get("type") == "image"]
    return refs


def has_images(prompt: Any) -> bool:
    return bool(prompt_image_refs(prompt))


def images_by_ref(prompt: Any, images: Iterable[Image]) -> list[Image]:
    """The prompt's images in prompt order, from `images`; a reference with no image is an `InputError`."""
    known = {image.ref: image for image in images}
    missing = [ref for ref in prompt_image_refs(prompt) if ref not in known]
    if missing:
        raise InputError(f"prompt names image {missing[0]} but its bytes are not with the task "
                         "(load the task with its images, or from the store that holds them)")
    return [known[ref] for ref in prompt_image_refs(prompt)]


def prompt_text(prompt: Any) -> str:
    """A prompt's text parts joined (images left out): what a text-only view shows."""
    if isinstance(prompt, str):
        return prompt
    parts = []
    for message in prompt:
        content = message.get("content", "")
        if isinstance(content, list):
            texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            parts.append("\n".join(texts))
        else:
            parts.append(str(content))
    return "\n\n".join(parts)
