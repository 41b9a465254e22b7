"""The manifest's one owner: the typed record of ``manifest.json``, its reader and its writer.

A store's manifest says which store schema it follows, what wrote it (package versions), each
sampled label's run (`Run`: the settings it was sampled with, its budget k and, for a checkpoint of a
training run, which run and step; an imported label's checkpoint beside them), each graded label's current
verifier versions and its named verdict sets (`Grading`, `VerdictSet`) and a history of events. Every stage
reads and changes it through `Manifest`; no other module knows its JSON shape.

`parse_manifest` turns the file's bytes into a `Manifest` or raises `ManifestError` with one line
naming the file and the first field that is wrong: bytes that are not UTF-8, text that is not
JSON (or nested too deep to read), a value of the wrong type (``grading: "oops"``, ``runs: [1]``,
``"schema_version": "1"``), a required field missing. `manifest_bytes` writes it back: fields
this tether does not know (written by a newer one, or by hand) are kept as they were.

Stores record what they need to rebuild a lost manifest in their shards (`tether.store.integrity`);
`tether check --repair` does it (`tether.store.rebuild`).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from contextlib import suppress
from importlib import metadata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tether.errors import StoreError
from tether.store.schema import SCHEMA_VERSION

MANIFEST = "manifest.json"
_PACKAGES = ("tether", "numpy", "scipy", "pyarrow", "duckdb")


class ManifestError(StoreError):
    """A manifest that cannot be read as a `Manifest` (`tether check --repair` sets it aside and rebuilds it);
    `problem` is what is wrong, without the file's name and the way out."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}; restore it, or run `tether check --repair` on the store to set it "
                         "aside and rebuild it from the shards")
        self.problem = problem


class _Record(BaseModel):
    # strict: "1" is not an int, 1.5 not an int, true not an int; unknown fields are kept and written back
    model_config = ConfigDict(strict=True, extra="allow")


class EngineRecord(_Record):
    """The engine a label was sampled with, as its `describe()` said: registry name, model (every built-in
    engine names one), and its own options (template, base_url, api, dtype …), which differ by engine and
    are read with `option`."""

    engine: str
    model: str | None = Field(default=None, exclude_if=lambda value: value is None)

    def option(self, name: str) -> Any:
        """One of the engine's own recorded options (None when it did not record it)."""
        return (self.model_extra or {}).get(name)


class DecodingRecord(_Record):
    temperature: float
    top_p: float
    max_tokens: int
    stop: list[str] = Field(default_factory=list)


class RunSettings(_Record):
    """What a sampled label's samples depend on; resuming with any of it changed is refused."""

    engine: EngineRecord
    decoding: DecodingRecord
    seed: int
    task_block: int
    sample_block: int
    n_tasks: int
    prompts_digest: str  # of the rendered prompts, in order
    adaptive: dict[str, int | float] | None = Field(default=None, exclude_if=lambda value: value is None)

    def as_dict(self) -> dict:
        """The settings as plain values, for comparing one run's with another's."""
        return self.model_dump()


class Checkpoint(_Record):
    """A label that is one checkpoint of a training run (an experiment file's ``run`` and ``step``): the run's
    name and the step the checkpoint was saved at (docs/experiment.md, "Studies")."""

    run: str
    step: int = Field(ge=0)


class Run(_Record):
    """A sampled label: its settings, its budget k (the largest any run of it asked for) and, for a checkpoint
    of a training run, which one (`Checkpoint`; recorded beside the settings, so naming it never refuses a
    resume)."""

    settings: RunSettings
    k: int = Field(ge=1)
    checkpoint: Checkpoint | None = Field(default=None, exclude_if=lambda value: value is None)


class VerdictSet(_Record):
    """One named set of verdicts of a label (`tether grade --verifier auto,exact`): the verifier versions it
    is made of (verifier name -> version), and a digest of the samples shards it was graded for (None when
    unknown)."""

    versions: dict[str, str] = Field(default_factory=dict)
    samples: str | None = None


class Grading(_Record):
    """A graded label: the verifier versions whose verdicts count (verifier name -> version), a digest of the
    samples shards they were recorded for (None when unknown), and, once a label was graded under several
    verifiers, the name of the set that counts (`verifier`: the ``--verifier`` value, e.g. ``auto``) and every
    named set kept beside it (`sets`, the counting one included), which counts never use. Manifests written
    before verdict sets have neither."""

    versions: dict[str, str] = Field(default_factory=dict)
    samples: str | None = None
    verifier: str | None = Field(default=None, exclude_if=lambda value: value is None)
    sets: dict[str, VerdictSet] = Field(default_factory=dict, exclude_if=lambda value: not value)

    def verdict_set(self, name: str) -> VerdictSet | None:
        """The named set (None when the label was never graded under it)."""
        return self.sets.get(name)

    def without_stamps(self) -> Grading:
        """This entry with no samples digest, its own or its sets' (a rebuilt manifest cannot vouch for them)."""
        return self.model_copy(update={"samples": None, "sets": {name: found.model_copy(update={"samples": None})
                                                                 for name, found in self.sets.items()}})


class Event(_Record):
    """One entry of the history: what happened and when; the rest (rows, labels, file …) is the event's own."""

    event: str
    at: str

    def detail(self, name: str) -> Any:
        return (self.model_extra or {}).get(name)


class Manifest(_Record):
    schema_version: int
    created_at: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    history: list[Event] = Field(default_factory=list)
    runs: dict[str, Run] = Field(default_factory=dict)
    grading: dict[str, Grading] = Field(default_factory=dict)
    # imported labels (no run of their own) that are checkpoints of a training run: verl's validation dumps
    checkpoints: dict[str, Checkpoint] = Field(default_factory=dict, exclude_if=lambda value: not value)

    def versions(self, label: str) -> dict[str, str] | None:
        """The current verifier versions of `label` (None: never graded by tether, every verdict counts)."""
        entry = self.grading.get(label)
        return entry.versions if entry is not None else None

    def grading_of(self, label: str) -> Grading:
        """`label`'s grading entry (an empty one when it has none)."""
        return self.grading.get(label) or Grading()

    def verdict_sets(self, label: str) -> dict[str, VerdictSet]:
        """`label`'s named verdict sets (set name -> its versions), the one that counts included; empty when
        it was graded under one verifier only (or before verdict sets)."""
        entry = self.grading.get(label)
        return dict(entry.sets) if entry is not None else {}

    def raise_budget(self, label: str, k: int) -> None:
        """`label`'s budget k raised to at least `k` (the one writer of `Run.k` besides a new claim)."""
        run = self.runs.get(label)
        if run is not None:
            run.k = max(run.k, int(k))

    def checkpoint(self, label: str) -> tuple[str, int] | None:
        """(training run, step) of `label` where it is recorded as a checkpoint of a run, else None."""
        run = self.runs.get(label)
        found = run.checkpoint if run is not None else None
        found = found or self.checkpoints.get(label)
        return (found.run, found.step) if found is not None else None

    def mark_checkpoint(self, label: str, run: str, step: int) -> None:
        """Record sampled `label` as the checkpoint of training run `run` at `step` (the one writer of
        `Run.checkpoint`; a label never sampled has no run to mark)."""
        entry = self.runs.get(label)
        if entry is not None:
            entry.checkpoint = checked(Checkpoint, {"run": run, "step": step}, f"label {label!r}: its checkpoint")

    def mark_imported_checkpoint(self, label: str, run: str, step: int) -> None:
        """Record imported `label` (samples written elsewhere, e.g. by verl's validation) as the checkpoint of
        training run `run` at `step`."""
        self.checkpoints[label] = checked(Checkpoint, {"run": run, "step": step}, f"label {label!r}: its checkpoint")

    def add_event(self, kind: str, **details) -> None:
        self.history.append(Event(event=kind, at=now(), **details))


def checked(record: type[_Record], values: dict, what: str):
    """`values` as a `record` (`RunSettings`, `Grading` …), or a one-line `StoreError` saying `what` could not be
    recorded and which field is wrong."""
    try:
        return record.model_validate(values)
    except ValidationError as exc:
        raise StoreError(f"{what}: {describe(exc)}") from None


def new_manifest(config: dict | None = None) -> Manifest:
    """The manifest of a new, empty store."""
    return Manifest(schema_version=SCHEMA_VERSION, created_at=now(), packages=package_versions(),
                    config=dict(config or {}))


def parse_manifest(raw: bytes, where: str) -> Manifest:
    """The manifest in `raw` (the bytes of `where`), or a one-line `ManifestError` naming what is wrong."""
    found = _json_object(raw, where)
    version = found.get("schema_version")
    if "schema_version" not in found:
        raise ManifestError(where, "field schema_version is missing")
    if type(version) is not int:
        raise ManifestError(where, f"field schema_version must be an integer, found {_found(version)}")
    if version != SCHEMA_VERSION:
        raise StoreError(f"{where}: the store has schema version {version}; this tether reads version {SCHEMA_VERSION}"
                         + (" (a newer tether wrote it)" if version > SCHEMA_VERSION else ""))
    try:
        return Manifest.model_validate(found)
    except ValidationError as exc:
        raise ManifestError(where, describe(exc)) from None


def salvage(raw: bytes) -> tuple[Manifest | None, list[str]]:
    """What can be kept of a manifest `parse_manifest` refuses: (the manifest without the fields that are
    wrong, those fields' names), or (None, []) when nothing can (not a JSON object of this schema version).
    A wrong run or grading entry drops only that label's entry."""
    try:
        found = _json_object(raw, "")
    except ManifestError:
        return None, []
    if found.get("schema_version") != SCHEMA_VERSION or type(found.get("schema_version")) is not int:
        found["schema_version"] = SCHEMA_VERSION
    dropped: list[str] = []
    for _ in range(1000):  # each round drops at least one entry
        try:
            return Manifest.model_validate(found), dropped
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            if len(loc) >= 2 and loc[0] in ("runs", "grading", "checkpoints") and isinstance(found.get(loc[0]), dict):
                found[loc[0]].pop(loc[1], None)
                dropped.append(f"{loc[0]}.{loc[1]}")
            elif loc and loc[0] in found and loc[0] != "schema_version":
                found.pop(loc[0])
                dropped.append(str(loc[0]))
            else:
                return None, []
    return None, []


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as written to ``manifest.json`` (checked to read back as it is)."""
    payload = manifest.model_dump()
    text = json.dumps(payload, indent=2) + "\n"
    Manifest.model_validate(json.loads(text))  # never write what could not be read back
    return text.encode()


def describe(exc: ValidationError) -> str:
    """The first problem of a validation error as ``field runs.base.k must be an integer, found a string ('8')``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "missing":
        return f"field {where} is missing"
    wanted = _WANTED.get(kind)
    if wanted is None:
        return f"field {where}: {first['msg']}"
    return f"field {where} must be {wanted}, found {_found(first.get('input'))}"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        with suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


_WANTED = {"dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
           "list_type": "a list", "int_type": "an integer", "float_type": "a number", "string_type": "a string",
           "bool_type": "true or false", "greater_than_equal": "at least 1", "none_required": "null"}


def _json_object(raw: bytes, where: str) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(where, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(where, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise ManifestError(where, "JSON nested too deeply to read") from None
    if not isinstance(found, dict):
        raise ManifestError(where, f"not a tether manifest (a JSON {_json_type(found)}, not an object)")
    return found


def _found(value: Any) -> str:
    shown = json.dumps(value) if _json_type(value) in ("string", "number", "boolean", "null") else None
    if shown is not None and len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{_article(_json_type(value))}" + (f" ({shown})" if shown and _json_type(value) != "null" else "")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _article(kind: str) -> str:
    return {"null": "null", "list": "a list", "object": "an object", "boolean": "a boolean", "number": "a number",
            "string": "a string"}.get(kind, kind)
