"""Defaults declared once: the sampling settings every entry point (library, CLI, experiment files) shares.

A light module (no imports), so that the CLI can show them in its help without loading anything.
"""

TEMPERATURE = 0.6
TOP_P = 0.95
MAX_TOKENS = 1024
SAMPLES_PER_TASK = 64  # k of `tether sample` when none is given
TASK_BLOCK = 8  # tasks per unit of sampling work (one shard)
SAMPLE_BLOCK = 64  # samples per task per unit
ENGINE = "transformers"

# comparing (`tether.compare.CompareOptions` reads them; the [compare] section and `tether compare`/`report` too)
BOOTSTRAP_REPS = 1000
CONFIDENCE = 0.95  # of every interval
ALPHA = 0.05  # false discovery rate of the per-task S/E tests
EXTRAPOLATE = 1  # doublings of k past the grid's largest to estimate (0: none; beyond 2x the samples: refused)
INTERVALS = "tasks"  # what an interval covers: "tasks" like these (resampled), or this "fixed" task set
# estimates beyond the counts ([diagnostics], [likelihood], `tether diagnose`, `tether likelihood`)
DIAGNOSE_K = 32  # samples per task for avg@k and the entropies
SCORING_BATCH = 16  # completions per scoring call
LIKELIHOOD_REGIONS = ("E", "S")
P_TASKS = 5  # P tasks estimated besides, as a check where the base's own rate is known
# planning (`tether plan`, `tether run --check`): generated tokens per second per GPU, the user's to set
THROUGHPUT = 5000.0
# the workers of a stage (`--workers`): grade's verifier processes, sample's engine actors on Ray
WORKERS = 2
# grading ([grading], `tether grade`)
MATH_TIMEOUT = 5  # seconds (whole): Math-Verify's limit on each parse and comparison of an answer
# the adaptive rule ([sampling] adaptive_*, `tether sample --adaptive-*`, `tether plan`; docs/adaptive.md)
ADAPTIVE_FIRST = 16  # samples in the first round (the regions rule's own first round: 8)
ADAPTIVE_GROWTH = 2  # each round ends at this many times the previous
ADAPTIVE_TOL = 1e-3  # settled: pass@k >= 1 - tol
