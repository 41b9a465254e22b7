"""Pure metric functions over per-task count arrays: no I/O, no DataFrames.

pass@k and its k grids (`passk`), where two curves cross (`crossing`), support regions and rates (`support`),
bootstrap intervals (`uncertainty`), what chance alone gives and the
per-task exact tests (`chance`), the detectability bound (`bound`).
"""

from tether.metrics.bound import detectability_epsilon, format_probability, samples_needed
from tether.metrics.chance import (
    ChanceLevel,
    ChanceLevels,
    RegionTests,
    chance_levels,
    fewest_successes,
    holm,
    poisson_binomial,
    region_chances,
    region_tests,
)
from tether.metrics.crossing import Crossing, Crossover, crossings, crossover_estimate, crossover_k
from tether.metrics.extrapolate import BetaFit, Extrapolation, extrapolate, fit_beta_binomial
from tether.metrics.passk import log_k_grid, pass_at_k, pass_at_k_where_sampled
from tether.metrics.support import (
    RATES,
    REGIONS,
    RegionCounts,
    SupportRegions,
    classify_tasks,
    rate_notes,
    region_counts,
    support_rates,
    support_regions,
)
from tether.metrics.uncertainty import (
    Interval,
    ShiftTests,
    bootstrap_mean_replicates,
    bootstrap_means,
    bootstrap_rates,
    miss_probability,
    shift_tests,
    simultaneous_band,
)

__all__ = [
    "BetaFit",
    "Extrapolation",
    "extrapolate",
    "fit_beta_binomial",
    "Crossing",
    "Crossover",
    "crossings",
    "crossover_estimate",
    "ChanceLevel",
    "ChanceLevels",
    "RegionTests",
    "chance_levels",
    "fewest_successes",
    "holm",
    "miss_probability",
    "poisson_binomial",
    "region_chances",
    "region_tests",
    "RATES",
    "REGIONS",
    "Interval",
    "RegionCounts",
    "SupportRegions",
    "ShiftTests",
    "bootstrap_mean_replicates",
    "bootstrap_means",
    "bootstrap_rates",
    "classify_tasks",
    "crossover_k",
    "detectability_epsilon",
    "format_probability",
    "log_k_grid",
    "pass_at_k",
    "pass_at_k_where_sampled",
    "rate_notes",
    "region_counts",
    "samples_needed",
    "shift_tests",
    "simultaneous_band",
    "support_rates",
    "support_regions",
]
