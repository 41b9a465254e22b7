"""Support regions and rates, including the paper's check values."""

import math

import numpy as np
import pytest

from tether.errors import InputError
from tether.metrics import RegionCounts, classify_tasks, rate_notes, region_counts, support_rates, support_regions


def test_paper_prorl_v2_counts_give_published_rates():
    rates = support_rates(P=2388, S=175, E=48)
    assert round(float(rates["srr"]), 2) == 0.93
    assert round(float(rates["ndr"]), 2) == 0.02
    assert round(float(rates["sds"]), 2) == 0.04
    assert round(float(rates["nscr"]), 2) == -0.05


def test_rates_follow_their_definitions():
    P, S, E = 30, 10, 5
    rates = support_rates(P, S, E)
    srr, ndr = P / (P + S), E / (P + E)
    assert rates["srr"] == pytest.approx(srr)
    assert rates["ndr"] == pytest.approx(ndr)
    assert rates["sds"] == pytest.approx(2 * srr * ndr / (srr + ndr))
    assert rates["nscr"] == pytest.approx((E - S) / (P + E + S))


def test_regions_from_counts():
    regions = classify_tasks([4, 4, 4, 4], [1, 2, 0, 0], [8, 8, 8, 8], [3, 0, 1, 0])
    assert regions.tolist() == ["P", "S", "E", "O"]
    assert region_counts(regions) == RegionCounts(P=1, S=1, E=1, O=1)


def test_support_regions_summary_from_per_task_counts():
    base = ([4] * 6, [1, 2, 3, 0, 0, 0])
    rl = ([8] * 6, [3, 0, 0, 0, 0, 5])
    summary = support_regions(base, rl)
    assert summary.regions.tolist() == ["P", "S", "S", "O", "O", "E"]
    assert summary.counts == RegionCounts(P=1, S=2, E=1, O=2)
    assert summary.rates == pytest.approx({"srr": 1 / 3, "ndr": 1 / 2, "sds": 0.4, "nscr": -1 / 4})
    assert summary.notes == {}
    empty = support_regions(([4], [0]), ([4], [0]))
    assert math.isnan(empty.rates["srr"]) and "P + S = 0" in empty.notes["srr"]


def test_zero_denominators_give_nan_with_notes():
    counts = RegionCounts(P=0, S=0, E=0, O=5)
    rates = support_rates(counts.P, counts.S, counts.E)
    assert all(math.isnan(float(v)) for v in rates.values())
    notes = rate_notes(counts)
    assert set(notes) == {"srr", "ndr", "sds", "nscr"}
    assert "P + S = 0" in notes["srr"]


def test_only_expansion_keeps_ndr_and_nscr():
    counts = RegionCounts(P=0, S=0, E=3, O=1)
    rates = support_rates(counts.P, counts.S, counts.E)
    assert math.isnan(float(rates["srr"]))
    assert float(rates["ndr"]) == 1.0
    assert float(rates["nscr"]) == 1.0
    assert set(rate_notes(counts)) == {"srr", "sds"}


def test_rates_vectorise_over_replicates():
    rates = support_rates(np.array([1, 2]), np.array([1, 0]), np.array([0, 2]))
    assert rates["srr"].tolist() == [0.5, 1.0]


@pytest.mark.parametrize(
    "args",
    [([0], [0], [1], [1]), ([2], [3], [1], [1]), ([2, 2], [1, 1], [2], [1])],
)
def test_bad_counts_are_errors(args):
    with pytest.raises(InputError):
        classify_tasks(*args)
