"""`tether demo --quick` end to end: the normal pipeline on the lab pair, next to exact values."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tether.lab.demo import run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    os.environ["TETHER_CACHE"] = str(cache)
    try:
        yield run_demo(tmp_path_factory.mktemp("demo") / "out", quick=True), cache
    finally:
        os.environ.pop("TETHER_CACHE")


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


def test_exact_checks_on_the_trained_pair(demo):
    analysis = demo[0].analysis
    assert analysis.tv_tabular < 1e-6
    assert analysis.support_violations == []
    assert len(analysis.tv_grpo) == len(analysis.prompts) and all(0 <= tv <= 1 for tv in analysis.tv_grpo)
    assert analysis.min_mass > 0.9


def test_cli_demo_reuses_models_and_stages(demo):
    result, cache = demo
    env = {**os.environ, "TETHER_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-m", "tether", "demo", "--quick", "--out", str(result.folder)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "sample base: skipped" in out.stderr and "pretraining" not in out.stderr
    for text in ("Support regions", "exact (expected)", "Mean pass@k: sampled [95% CI] vs exact", "avg@32",
                 "support preservation: 0 correct RL modes"):
        assert text in out.stdout
    tv = float(re.search(r"TV\(tabular optimiser, closed form\) max ([0-9.e+-]+)", out.stdout).group(1))
    assert tv < 1e-6
