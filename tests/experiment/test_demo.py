"""`tether demo --quick` end to end: the normal pipeline on the lab pair, next to exact values."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tether.experiment.demo import run_demo, with_seed


@pytest.fixture
def demo(quick_demo):
    return quick_demo


def test_sampled_estimates_agree_with_exact_values(demo):
    result, _ = demo
    comparison, analysis = result.comparison, result.analysis
    for label in ("base", "rl"):
        lo, hi = comparison.pass_at_k_ci[label]
        exact = analysis.pass_at_k[label]
        assert np.all((lo - 1e-9 <= exact) & (exact <= hi + 1e-9)), (label, lo, exact, hi)
    assert sum(analysis.expected_regions.values()) == pytest.approx(len(comparison.task_ids))
    for label in ("base", "rl"):
        stats = result.answers[label]
        assert stats.k == 32 and stats.tasks == len(comparison.task_ids)
        assert abs(stats.avg_at_k - analysis.mean(label, "p_correct")) < 0.15


def test_extrapolation_is_refused_where_the_data_cannot_say(demo):
    """From 64 samples on the demo's few prompts, too few tasks are solved to fit a spread of chances: the
    comparison says so in one sentence and prints no number (docs/science.md: the joint model's refusals)."""
    from tether.cli.render import _extrapolation_line

    result, _ = demo
    ext = result.comparison.extrapolation
    assert ext is not None and ext.refused and ext.k_grid.size == 0 and ext.refusal
    assert all(not values.size for values in ext.means.values())
    line = _extrapolation_line(result.comparison)
    assert line.startswith("extrapolation: none shown: ") and ext.refusal in line


def test_exact_checks_on_the_trained_pair(demo):
    analysis = demo[0].analysis
    assert demo[0].pair == "trained" and "lab-quick:" not in (demo[0].folder / "experiment.toml").read_text()
    assert analysis.tv_tabular < 1e-6
    assert analysis.support_violations == []
    exact = json.loads((demo[0].folder / "exact.json").read_text())
    assert exact["tv_tabular_max"] == analysis.tv_tabular and len(exact["prompts"]) == len(analysis.prompts)
    assert len(analysis.tv_grpo) == len(analysis.prompts) and all(0 <= tv <= 1 for tv in analysis.tv_grpo)
    assert analysis.min_mass > 0.999  # threshold 1e-8 in the quick setting; benchmarks/demo.py checks 1 - 1e-6
    assert all(0 <= c <= 1 for c in analysis.region_chance.values())


def test_cli_demo_reuses_models_and_stages(demo):
    result, cache = demo
    env = {**os.environ, "TETHER_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-m", "tether", "demo", "--quick", "--out", str(result.folder)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "sample base: skipped" in out.stderr and "pretraining" not in out.stderr
    assert re.search(r"sample base: skipped \(.*; \d+\.\d s\)", out.stderr)  # each stage with its time
    assert "Warning" not in out.stderr and "warn" not in out.stderr.lower()
    assert out.stdout.startswith("model pair: trained on this machine earlier")
    for text in ("Support regions", "exact (expected)", "Mean pass@k: sampled [95% CI] vs exact", "avg@32",
                 "support preservation: 0 correct RL modes", "Diagnostics (entropies in nats)", "(report:"):
        assert text in out.stdout
    tv = float(re.search(r"TV\(tabular optimiser, closed form\) max ([0-9.e+-]+)", out.stdout).group(1))
    assert tv < 1e-6


def _samples(folder):
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "store" / "samples").select(["model", "task_id", "sample_idx", "completion"])
    return sorted(zip(*(table.column(name).to_pylist() for name in table.column_names)))


def test_demo_is_deterministic_given_its_seed(demo, tmp_path, monkeypatch):
    result, cache = demo  # quick.toml samples with seed 0
    monkeypatch.setenv("TETHER_CACHE", str(cache))
    again = run_demo(tmp_path / "same", quick=True, seed=0)
    assert _samples(again.folder) == _samples(result.folder)
    # another seed reaches the sampler (that seeds change samples is tests/sampling's business)
    from tether.store import open_store

    text = (again.folder / "experiment.toml").read_text()
    assert with_seed(text, 7) != text and "seed = 0" in text
    assert open_store(again.folder / "store").manifest().runs["base"].settings.seed == 0


def test_with_seed_rewrites_the_one_seed_line():
    text = 'store = "store"\n[sampling]\nk = 4\nseed = 1      # a comment\n'
    assert with_seed(text, 42) == 'store = "store"\n[sampling]\nk = 4\nseed = 42      # a comment\n'
    with pytest.raises(ValueError):
        with_seed("k = 4\n", 1)
