"""Experiments: one config schema for the CLI and TOML files, `run_experiment`, and the lab demo.

This is where stages are wired together (with `tether.cli` above it); no stage imports it.
"""

from tether.experiment.run import StageLog, run_experiment
from tether.experiment.schema import Experiment, load_experiment

__all__ = ["Experiment", "StageLog", "load_experiment", "run_experiment"]
