"""Converting a GGUF checkpoint into a float32 safetensors folder that every engine loads fast.

transformers reads GGUF files directly (``gguf_file=``) but dequantises them on
every load (~15-30 s for a 135M model); converting once gives a standard
folder that loads in about a second. `save_pretrained` refuses a model loaded
from a quantized GGUF until its quantizer and ``quantization_config`` are
dropped, which is safe here because the weights are already dequantised.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tether.errors import InputError


def check_conversion(gguf_path: str | Path, out_dir: str | Path) -> None:
    """Refuse at once (before transformers is imported) a missing GGUF file or an output folder in use."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise InputError(f"{gguf_path}: no such GGUF file")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"{out_dir}: already exists and is not an empty folder; give a new folder")


def convert_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Write `out_dir` (model + tokenizer, float32 safetensors) from a GGUF file; atomic."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise InputError(f"{gguf_path}: no such GGUF file")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype="float32")
    except (OSError, ValueError, KeyError, RuntimeError, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{gguf_path}: cannot read it as a GGUF checkpoint: {first}") from None
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()  # an empty folder made for it: replaced by the staged one
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            os.replace(staging, out_dir)
        except OSError:
            if not (out_dir / "config.json").exists():
                raise  # else another process converted the same file first: its folder is the same
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def cached_conversion(gguf_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The converted folder for a GGUF file in tether's cache (``$TETHER_CACHE/models``), converting it once
    per file content (the benchmarks use it; `tether convert-gguf` writes where the user says)."""
    gguf_path = Path(gguf_path)
    digest = hashlib.sha256()
    with open(gguf_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    root = Path(cache_dir or os.environ.get("TETHER_CACHE", Path.home() / ".cache" / "tether")) / "models"
    target = root / f"{gguf_path.stem}-{digest.hexdigest()[:12]}"
    if (target / "config.json").exists():
        return target
    return convert_gguf(gguf_path, target)
