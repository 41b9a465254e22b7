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
