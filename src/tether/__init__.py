"""tether: did RL expand what a model can solve, or only sharpen what its base could sample?

The public API; every CLI command is a few lines over one of these names. Each
name is imported on first use (PEP 562), so `import tether` and the light CLI
commands (`tether --help`, `tether bound`) load nothing heavy.
"""

from tether._version import __version__

_PUBLIC = {  # name -> the module that defines it
    "CompareOptions": "tether.compare",
    "Comparison": "tether.compare",
    "Rate": "tether.compare",
    "compare_counts": "tether.compare",
    "save_comparison": "tether.compare",
    "load_counts": "tether.compare",
    "show_task": "tether.compare.show",
    "show_region": "tether.compare.show",
    "TaskCounts": "tether.store",
    "task_counts": "tether.store.query",
    "Store": "tether.store",
    "open_store": "tether.store",
    "SAMPLE_SCHEMA": "tether.store.schema",
    "VERDICT_SCHEMA": "tether.store.schema",
    "Sample": "tether.store.schema",
    "Verdict": "tether.store.schema",
    "Decoding": "tether.engines",
    "EngineSpec": "tether.engines",
    "make_engine": "tether.engines",
    "InputError": "tether.errors",
    "StoreError": "tether.errors",
    "TetherError": "tether.errors",
    "GradeOptions": "tether.grading",
    "grade": "tether.grading",
    "ImportSummary": "tether.ingest",
    "import_samples": "tether.ingest",
    "read_graded_rows": "tether.ingest",
    "bootstrap_rates": "tether.metrics",
    "crossover_k": "tether.metrics",
    "detectability_epsilon": "tether.metrics",
    "pass_at_k": "tether.metrics",
    "samples_needed": "tether.metrics",
    "shift_tests": "tether.metrics",
    "support_rates": "tether.metrics",
    "support_regions": "tether.metrics",
    "SamplingConfig": "tether.sampling",
    "sample": "tether.sampling",
    "sample_distributed": "tether.sampling",
    "Task": "tether.tasks",
    "load_tasks": "tether.tasks",
    "load_experiment": "tether.experiment",
    "run_experiment": "tether.experiment",
    "diagnose": "tether.diagnostics",
    "load_diagnostics": "tether.diagnostics",
    "build_report": "tether.report",
}


def __getattr__(name: str):
    import importlib

    if name == "compare":  # the compare stage's package, which is callable as its function `compare`
        return importlib.import_module("tether.compare")
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'tether' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC, "compare"])


__all__ = ["__version__", "compare", *_PUBLIC]
