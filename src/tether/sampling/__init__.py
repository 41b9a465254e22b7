"""The sampling stage: k completions per task from one engine into a store, resumable and deterministic.

`sample` runs on this machine; `sample_distributed` spreads the same units over an executor's
workers (the caller hands in a `tether.scale.RayExecutor`).
"""

from tether.sampling.config import SamplingConfig
from tether.sampling.distributed import SamplingWorker, sample_distributed
from tether.sampling.run import SampleSummary, prepare_run, run_unit, sample
from tether.sampling.units import Unit, missing_units

__all__ = ["SampleSummary", "SamplingConfig", "SamplingWorker", "Unit", "missing_units", "prepare_run", "run_unit",
           "sample", "sample_distributed"]
