"""The store's images: each picture a task's prompt names, kept once by the sha256 of its bytes.

Layout: ``images/<first two hex digits>/<sha256 hex>`` holding the encoded image as given (PNG,
JPEG ...). A prompt names its images as ``sha256:<digest>`` (`tether.tasks.images`); the tasks
table holds the prompt, this folder the bytes, so a picture shared by many tasks, labels or runs
is one file. Content addressing makes a write idempotent: an image already there is not written
again, and a read checks the bytes against the name (a damaged file is an error, never a picture).

This module knows bytes and paths; what an image is, is `tether.tasks.images`'.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from tether.errors import StoreError

IMAGES = "images"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def image_key(digest: str) -> str:
    """An image's path inside the store, from its sha256 hex digest."""
    if not _DIGEST.fullmatch(digest):
        raise StoreError(f"image name {digest[:80]!r} is not a sha256 hex digest")
    return f"{IMAGES}/{digest[:2]}/{digest}"


def put_images(store, images: Mapping[str, bytes]) -> int:
    """Store each image (digest -> bytes) the store does not hold yet; the number written."""
    written = 0
    for digest, data in images.items():
        if hashlib.sha256(data).hexdigest() != digest:
            raise StoreError(f"image sha256:{digest[:12]}...: its bytes do not hash to its name")
        key = image_key(digest)
        if store._exists(key):
            continue
        _put(store, key, data)
        written += 1
    return written


def read_image(store, digest: str) -> bytes:
    """The bytes of the image named `digest` (checked against it); a `StoreError` when absent or damaged."""
    key = image_key(digest)
    try:
        data = _get(store, key)
    except FileNotFoundError:
        raise StoreError(f"{store.root}: no image sha256:{digest} ({key}); the tasks naming it were written "
                         "without it, or it was removed") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise StoreError(f"{store.root}: image {key} is damaged (its bytes do not hash to its name)")
    return data


def read_images(store, digests: Iterable[str]) -> dict[str, bytes]:
    return {digest: read_image(store, digest) for digest in dict.fromkeys(digests)}


def stored_images(store) -> list[str]:
    """The digests of every image the store holds."""
    if hasattr(store, "fs"):
        store.fs.invalidate_cache()
        base = f"{store._path}/{IMAGES}"
        names = [key.rsplit("/", 1)[-1] for key in store.fs.find(base)] if store.fs.exists(base) else []
    else:
        base = store.root / IMAGES
        names = [path.name for path in base.glob("*/*")] if base.is_dir() else []
    return sorted(name for name in names if _DIGEST.fullmatch(name))


def _put(store, key: str, data: bytes) -> None:
    if hasattr(store, "fs"):  # an ObjectStore: one object, whole
        store.fs.pipe_file(f"{store._path}/{key}", data)
        return
    from tether.store.local import _write_bytes_atomic

    path = store.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_bytes_atomic(path, data)  # a hidden temp file renamed into place: never a half image


def _get(store, key: str) -> bytes:
    if hasattr(store, "fs"):
        return store.fs.cat_file(f"{store._path}/{key}")
    return (store.root / key).read_bytes()


def lend_images(engine, store) -> None:
    """Give an engine that reads images (one with an ``image_source`` attribute: transformers) this store's,
    so it can score prompts read back from the store (token entropy, perplexity, cross-likelihood)."""
    if hasattr(engine, "image_source"):
        engine.image_source = lambda digest: read_image(store, digest)
