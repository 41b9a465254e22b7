"""tether: did RL expand what a model can solve, or only sharpen what its base could sample?

The public API; every CLI command is a few lines over one of these names.
Heavy optional libraries (torch, vllm, ray) are never imported here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tether")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

from tether.compare import CompareOptions, Comparison, Rate, compare, compare_counts, save_comparison
from tether.counts import TaskCounts, load_counts, task_counts
from tether.engines import Decoding, make_engine
from tether.errors import InputError, StoreError, TetherError
from tether.grading import GradeOptions, grade
from tether.importer import ImportSummary, import_samples, read_graded_rows
from tether.metrics import (
    bootstrap_rates,
    crossover_k,
    detectability_epsilon,
    pass_at_k,
    samples_needed,
    shift_tests,
    support_rates,
    support_regions,
)
from tether.records import SAMPLE_SCHEMA, VERDICT_SCHEMA, Sample, Verdict
from tether.sampling import SamplingConfig, sample
from tether.store import Store
from tether.tasks import Task, load_tasks

_LAZY = {  # imported on first use: pydantic (experiment files), the diagnostics and the report
    "load_experiment": "tether.experiment",
    "run_experiment": "tether.experiment",
    "diagnose": "tether.diagnostics",
    "load_diagnostics": "tether.diagnostics",
    "build_report": "tether.report",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tether' has no attribute {name!r}")


__all__ = [
    "build_report",
    "diagnose",
    "load_diagnostics",
    "Decoding",
    "GradeOptions",
    "SamplingConfig",
    "Task",
    "grade",
    "load_experiment",
    "run_experiment",
    "load_tasks",
    "make_engine",
    "sample",
    "SAMPLE_SCHEMA",
    "VERDICT_SCHEMA",
    "CompareOptions",
    "Comparison",
    "ImportSummary",
    "InputError",
    "Rate",
    "Sample",
    "Store",
    "StoreError",
    "TaskCounts",
    "TetherError",
    "Verdict",
    "__version__",
    "bootstrap_rates",
    "compare",
    "compare_counts",
    "crossover_k",
    "detectability_epsilon",
    "import_samples",
    "load_counts",
    "pass_at_k",
    "read_graded_rows",
    "samples_needed",
    "save_comparison",
    "shift_tests",
    "support_rates",
    "support_regions",
    "task_counts",
]
