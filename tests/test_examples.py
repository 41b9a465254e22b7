"""The bundled toy example: reproducible from its script, and its sampled regions equal the truth."""

import csv
import hashlib
import importlib.util
from pathlib import Path

import pytest

from tether.compare import compare

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_script_regenerates_the_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_toy", EXAMPLES / "make_toy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("base.jsonl.gz", "rl.jsonl.gz", "truth.csv"):
        assert digest(tmp_path / name) == digest(EXAMPLES / "toy" / name), name


def test_sampled_regions_match_the_ground_truth():
    with open(EXAMPLES / "toy" / "truth.csv") as handle:
        truth = {row["task_id"]: row["region"] for row in csv.DictReader(handle)}
    result = compare(EXAMPLES / "toy" / "base.jsonl.gz", EXAMPLES / "toy" / "rl.jsonl.gz")
    assert dict(zip(result.task_ids, result.regions)) == truth
    assert result.counts.as_dict() == {"P": 70, "S": 20, "E": 8, "O": 22}
    assert result.rates["srr"].value == pytest.approx(70 / 90)
    assert result.crossover_k is not None
