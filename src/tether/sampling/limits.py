"""What one sampling run can hold: bounds on k, max_tokens and the units of work, computed and stated.

The rules of a run's settings, stated once: `SamplingConfig` and `Decoding` hold themselves to them,
and the experiment schema checks each field of a file, or each flag of `tether sample`, with them
(so both name the setting at fault). Every bound is computed from what holds the run, and the error
says it:

- the store's names: a unit's shard names its sample range with `SAMPLE_DIGITS` digits and its task
  block with `BLOCK_DIGITS`, and resuming reads them back, so k <= 9,999,999 samples per task and at
  most 1,000,000 task blocks;
- this machine's memory (or its container's limit): a unit's completions are held until its shard is
  written, up to task_block x sample_block x max_tokens tokens (at least `TOKEN_BYTES` bytes each),
  which may take at most half of it; every unit of the run is listed before the first is sampled
  (`UNIT_BYTES` each), which may take at most a quarter;
- the engine's context (`max_context`, where the engine knows it): a completion of max_tokens tokens
  must fit beside its prompt.

`check_run` applies the bounds that need the tasks or the engine; `tether.sampling.run.prepare_run`
calls it before the run's settings or prompts are written, and the CLI and experiment runs call it as
soon as they have the tasks, before a model is loaded.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tether.engines.base import decoding_problem
from tether.errors import InputError

if TYPE_CHECKING:
    from tether.sampling.config import SamplingConfig  # which holds itself to these rules when made

BLOCK_DIGITS, SAMPLE_DIGITS = 6, 7  # a shard names its task block and sample range with this many digits
MAX_SAMPLES = 10**SAMPLE_DIGITS - 1  # per task: k, and a unit's samples
MAX_BLOCKS = 10**BLOCK_DIGITS  # task blocks of one run
TOKEN_BYTES = 4  # memory a generated token takes at least: an int32 id in the engine, about 4 bytes of text after
UNIT_BYTES = 200  # a unit of work listed in memory (measured: a `Unit` and its place in the list)
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def setting_problem(name: str, value: float) -> str | None:
    """What is wrong with one setting of a run (k, the block sizes, the decoding), or None."""
    if name in ("temperature", "top_p", "max_tokens"):
        return decoding_problem(name, value)
    if name in ("k", "task_block", "sample_block") and value < 1:
        return f"must be >= 1, got {value}"
    if name in ("k", "sample_block") and value > MAX_SAMPLES:
        return (f"must be at most {MAX_SAMPLES:,} (a unit's shard names its samples with {SAMPLE_DIGITS} digits, "
                f"and resuming reads them back), got {value:,}")
    return None


def size_problem(config: SamplingConfig, n_tasks: int | None = None, context: int | None = None,
                 memory: int | None = None) -> str | None:
    """What makes a run of `config` (over `n_tasks` tasks, on an engine holding `context` tokens, where given)
    too big for the store's names, the engine or this machine's memory; None when it fits."""
    memory = machine_memory() if memory is None else memory
    max_tokens = config.decoding.max_tokens
    samples = min(config.sample_block, config.k)
    per_unit = config.task_block * samples  # completions a unit holds until it is written
    if per_unit * max_tokens * TOKEN_BYTES > memory // 2:
        bound = memory // 2 // (per_unit * TOKEN_BYTES)
        return (f"max_tokens {max_tokens:,}: a unit of {config.task_block} tasks x {samples} samples holds up to "
                f"{per_unit:,} completions of that many tokens ({TOKEN_BYTES} bytes each at least) until it is "
                f"written, more than half of this machine's {_size(memory)} of memory; max_tokens can be at most "
                f"{bound:,} here (or lower task_block and sample_block)")
    if context is not None and max_tokens >= context:
        return (f"max_tokens {max_tokens:,}: the model holds {context:,} tokens, prompt and completion together; "
                f"give max_tokens below {context:,} (vLLM: or a larger max_model_len, if the model allows it)")
    if n_tasks is None:
        return None
    blocks = math.ceil(n_tasks / config.task_block)
    if blocks > MAX_BLOCKS:
        return (f"{n_tasks:,} tasks in blocks of {config.task_block} make {blocks:,} task blocks; a shard names its "
                f"block with {BLOCK_DIGITS} digits, so at most {MAX_BLOCKS:,}: give task_block >= "
                f"{math.ceil(n_tasks / MAX_BLOCKS):,}")
    units = blocks * math.ceil(config.k / config.sample_block)
    if units * UNIT_BYTES > memory // 4:
        most = memory // 4 // UNIT_BYTES
        return (f"k = {config.k:,} over {n_tasks:,} tasks in units of {config.task_block} tasks x "
                f"{config.sample_block} samples is {units:,} units of work, listed in memory before the first is "
                f"sampled ({_size(units * UNIT_BYTES)}); a quarter of this machine's {_size(memory)} holds "
                f"{most:,}: give sample_block >= {math.ceil(config.k / max(1, most // blocks)):,}, or a smaller k")
    return None


def check_run(config: SamplingConfig, n_tasks: int, context: int | None = None) -> None:
    """Refuse a run of `config` over `n_tasks` tasks (on an engine holding `context` tokens) that cannot be held."""
    problem = size_problem(config, n_tasks, context)
    if problem:
        raise InputError(problem)


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's (cgroup) limit where lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for name in _CGROUP_LIMITS:
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _size(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
