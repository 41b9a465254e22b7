"""Package-level promises: the public API, and no heavy imports on `import tether`."""

import subprocess
import sys

import tether


def test_public_api_names_are_the_objects_of_their_stages():
    import importlib

    import pyarrow as pa

    assert "compare" in tether.__all__ and set(tether.__all__) <= set(dir(tether))
    for name in tether.__all__:
        value = getattr(tether, name)
        if name == "__version__":
            assert isinstance(value, str) and value
        elif name == "compare":  # the stage's package, callable as its function
            assert value is importlib.import_module("tether.compare") and callable(value)
        else:
            assert value is getattr(importlib.import_module(tether._PUBLIC[name]), name), name
            assert callable(value) or isinstance(value, pa.Schema), name


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'comapre'"):
        tether.comapre  # noqa: B018


def test_compare_is_callable_and_its_modules_importable(tmp_path):
    import numpy as np

    import tether.compare.store as saved

    base = tether.TaskCounts.from_arrays("base", "a", ["t1", "t2"], [4, 4], [0, 2])
    rl = tether.TaskCounts.from_arrays("rl", "b", ["t1", "t2"], [4, 4], [1, 2])
    rows = [{"task_id": t, "correct": bool(c)} for t, n, cs in zip(base.task_ids, base.n, base.c)
            for c in [1] * cs + [0] * (n - cs)]
    import json

    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_files = tether.compare(tmp_path / "b.jsonl", tmp_path / "b.jsonl")
    assert from_files.counts.as_dict() == {"P": 1, "S": 0, "E": 0, "O": 1}
    assert tether.compare_counts(base, rl, tether.CompareOptions(bootstrap_reps=20)).counts.E == 1
    assert saved.FOLDER == "compare" and np.array_equal(tether.pass_at_k([4], [2], [1]), [[0.5]])


def test_import_does_not_pull_heavy_libraries():
    code = "import sys, tether, tether.cli; print(sorted(m for m in ('torch', 'vllm', 'ray', 'transformers', 'pandas', 'math_verify', 'reasoning_gym', 'datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
