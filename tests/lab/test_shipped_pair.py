"""The lab pair shipped with tether: used without training, and its exact expectations for the demo
are the stored ones (so every machine prints the same)."""

import json
from importlib import resources

import numpy as np
import pytest

from tether.experiment.demo import exact_prompts
from tether.lab.models import CONFIGS, SHIPPED, lab_models, shipped_pair
from tether.lab.selection import expectation
from tether.tasks import load_tasks

EXPECTED = json.loads(resources.files("tether.experiment").joinpath("demos", "demo.expected.json").read_text())


def test_the_demo_configuration_uses_the_shipped_pair_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TETHER_CACHE", str(tmp_path / "cache"))
    assert lab_models(CONFIGS["lab"]) == (SHIPPED / "base", SHIPPED / "rl")
    assert not (tmp_path / "cache").exists()  # nothing trained, nothing cached
    record = json.loads((SHIPPED / "lab.json").read_text())
    assert record["digest"] == CONFIGS["lab"].digest() == EXPECTED["pair_digest"]
    log = (SHIPPED / "training.log").read_text().splitlines()
    assert json.loads(log[0])["digest"] == record["digest"] and len(log) == 1 + 1500 + 300  # every step logged
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert size < 1_000_000
    assert shipped_pair(CONFIGS["lab-quick"]) is None  # another configuration is trained, not shipped


def test_stored_expectations_follow_from_the_stored_probabilities():
    scanned = {p["target"]: (p["base"], p["rl"]) for p in EXPECTED["prompts"]}
    found = expectation(scanned, list(scanned), EXPECTED["k"])
    for region in ("P", "S", "E", "O"):
        assert found.expected[region] == pytest.approx(EXPECTED["expected_regions"][region], abs=1e-9)
        assert found.chance[region] == pytest.approx(EXPECTED["region_chance"][region], abs=1e-9)
    assert min(EXPECTED["region_chance"].values()) >= 0.9  # every region, E included, likely in a run


@pytest.mark.parametrize("target", [66, 120])  # an E and an O task of the demo (S: tested by the stored file)
def test_the_shipped_pair_gives_the_stored_probabilities(target):
    stored = next(p for p in EXPECTED["prompts"] if p["target"] == target)
    [prompt] = exact_prompts(load_tasks(f"lab-sums:{target}"), SHIPPED / "base", SHIPPED / "rl", max_tokens=6,
                             threshold=1e-12)
    assert np.isclose(prompt.base.p_correct, stored["base"], rtol=1e-5, atol=1e-9)
    assert np.isclose(prompt.rl.p_correct, stored["rl"], rtol=1e-5, atol=1e-9)


def test_choosing_prompts_reaches_the_chance_asked_for():
    from tether.lab.selection import choose, spec

    assert spec([2, 3, 4, 7, 9, 10]) == "lab-sums:2-4,7,9-10"
    # a synthetic scan: easy sums, some the RL model gains (E-like), some it loses (S-like), hopeless ones
    scanned = {n: (0.9, 0.99) for n in range(2, 13)}
    scanned |= {n: (1e-5, 1e-3) for n in range(60, 70)} | {n: (1e-2, 1e-6) for n in range(70, 80)}
    scanned |= {n: (1e-9, 1e-9) for n in range(100, 110)} | {23: (0.02, 0.9), 29: (0.01, 0.9), 37: (0.1, 0.9)}
    chosen = choose(scanned, k=1024, min_chance=0.95)
    found = expectation(scanned, chosen, 1024)
    assert all(found.chance[region] >= 0.95 for region in ("P", "S", "E", "O"))
    assert set(range(2, 13)) | {23, 29, 37} <= set(chosen)
