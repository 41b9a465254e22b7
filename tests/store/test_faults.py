"""A randomized fault test: `tether sample`, `grade` and `import` SIGKILLed at random hold points, random bytes
flipped in random shards, then `tether check --repair` and a resume; the store ends as a run never
interrupted: nothing counted twice or lost, every damaged shard in quarantine.

Each killed run is a fork of this test process (the model loaded once, no interpreter start), held at a
point of `tether.testing` by the same protocol as `tests/holds.py` and killed there with SIGKILL, so no
kill races the run. `FAULTS` kills run in the suite (seed `FAULT_SEED`); `TETHER_FAULT_KILLS` and
`TETHER_FAULT_SEED` run a longer or another schedule, e.g. ``TETHER_FAULT_KILLS=300``.
"""

import hashlib
import os
import signal
import time
from multiprocessing import forkserver
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import tether
from tether import testing
from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import InputError, TetherError
from tether.grading import GradeOptions
from tether.sampling import SamplingConfig, sample
from tether.store import open_store
from tether.store.check import check_location, check_store
from tether.store.query import task_counts
from tether.tasks import load_tasks

from ..conftest import write_jsonl
from ..holds import Hold

FAULTS = int(os.environ.get("TETHER_FAULT_KILLS", "30"))
FAULT_SEED = int(os.environ.get("TETHER_FAULT_SEED", "31"))
CONFIG = SamplingConfig(k=8, decoding=Decoding(1.0, 1.0, 6), task_block=2, sample_block=2)  # 2 x k/2 units
K_STEP = 8  # the budget grows by K_STEP (as runs resumed with a larger --k do) once both labels hold it
GRADING = GradeOptions(verifier="exact", workers=1, chunk_size=8)
FIRST = [("sample rl", "commit:tasks", 0), ("sample base", "commit:samples", 1), ("import", "group:linked-one", 0),
         ("grade", "commit:verdicts", 0)]  # (writer, hold point, passages before the kill) of the first rounds
WEIGHTS = {"sample base": 0.35, "sample rl": 0.3, "grade": 0.2, "import": 0.15}  # grade's forks cost most (a worker)
IMPORTED = [{"task_id": f"i{t}", "sample_idx": j, "completion": f"Final answer: {j}", "correct": j % 3 == t % 3}
            for t in range(3) for j in range(6)]


class Pipeline:
    """The three writers of the test's store, each runnable in this process or in a fork killed at a hold."""

    def __init__(self, tiny_model: Path, folder: Path):
        self.engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
        self.tasks = load_tasks("lab-sums:2-5")
        self.imported = write_jsonl(folder / "imp.jsonl", IMPORTED)

    def sample(self, store: Path, label: str, k: int) -> None:
        sample(self.tasks, self.engine, store, label, SamplingConfig(**{**CONFIG.__dict__, "k": k, "seed": len(label)}))

    def grade(self, store: Path) -> None:
        sampled = [label for label in ("base", "rl") if open_store(store).shard_paths("samples", label)]
        tether.grade(store, GRADING, labels=sampled)

    def import_(self, store: Path) -> None:
        try:
            tether.import_samples(self.imported, store, label="imp")
        except InputError as exc:  # imported whole before: every key is there
            if "already in" not in str(exc):
                raise

    def complete(self, store: Path, k: int) -> None:
        for label in ("base", "rl"):
            self.sample(store, label, k)
        self.grade(store)
        self.import_(store)


def killed_at(hold: Hold, run) -> str:
    """Run `run()` in a fork of this process under `hold`; SIGKILL it once it holds there. "killed", "done", or
    "refused: <the one line of a TetherError>"; anything else (a traceback, a signal) fails the test."""
    for name in ("held", "go", "error"):
        (hold.folder / name).unlink(missing_ok=True)
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.environ.update({testing.VARIABLE: hold.env()[testing.VARIABLE]})
            testing._passed.clear()
            _share_the_forkserver()
            run()
        except TetherError as exc:
            (hold.folder / "error").write_text(str(exc))
            code = 2
        except BaseException as exc:  # noqa: BLE001 - reported to the test as a failure
            import traceback

            (hold.folder / "error").write_text("".join(traceback.format_exception(exc)))
            code = 3
        os._exit(code)
    deadline = time.monotonic() + 300
    while True:
        if (hold.folder / "held").exists():
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "killed"
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            error = (hold.folder / "error").read_text() if (hold.folder / "error").exists() else ""
            assert code in (0, 2), f"exit {code}: {error}"
            assert "\n" not in error.strip(), error
            return "done" if code == 0 else f"refused: {error}"
        assert time.monotonic() < deadline, f"{hold.point} not reached in 300 s"
        time.sleep(0.005)


def _share_the_forkserver() -> None:
    """In a fork: grading workers come from this test process's forkserver, started by the test, which is not the
    fork's child (multiprocessing would wait on it, and fail); starting one per fork costs seconds."""
    server = forkserver._forkserver
    if server._forkserver_address is not None:
        server.ensure_running = lambda: None


def _flip_one(store: Path, rng) -> dict[str, str]:
    """Flip one random bit of one random committed shard of the store (samples, verdicts, tasks or the verdict
    cache): {its path relative to the store: the digest of its damaged bytes}."""
    if not (store / "manifest.json").exists():
        return {}
    opened = open_store(store)
    shards = [p for table, labels in (("samples", ("base", "rl")), ("verdicts", ("base", "rl")),
                                      ("tasks", ("base", "rl")), ("grades", ("exact",)))
              for label in labels for p in opened.shard_paths(table, label)]
    if not shards:
        return {}
    path = Path(shards[int(rng.integers(len(shards)))])
    data = bytearray(path.read_bytes())
    data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    path.write_bytes(bytes(data))
    return {opened.relative(path): _digest(path)}


def _repair(store: Path, flipped: dict[str, str]) -> None:
    """`tether check --repair`: it repairs everything, and every shard flipped since the last repair is in
    quarantine, no longer among the store's shards."""
    report = check_location(store, repair=True)
    assert report.ok, [(p.kind, p.where, p.detail) for p in report.problems if not p.repaired]
    quarantined = {_digest(p) for p in (store / "quarantine").rglob("*.parquet")}
    for relative, digest in flipped.items():
        assert digest in quarantined, f"{relative} was damaged but is not in quarantine"
        assert not (store / relative).exists() or _digest(store / relative) != digest


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _samples(store: Path, label: str) -> list[tuple]:
    rows = [row for path in open_store(store).shard_paths("samples", label)
            for row in pq.read_table(path, columns=["task_id", "sample_idx", "completion"]).to_pylist()]
    return sorted((r["task_id"], r["sample_idx"], r["completion"]) for r in rows)


def _counts(store: Path, label: str) -> dict[str, tuple[int, int]]:
    counts = task_counts(open_store(store), label)
    return {str(t): (int(n), int(c)) for t, n, c in zip(counts.task_ids, counts.n, counts.c)}


def test_kills_and_flipped_bytes_then_repair_and_resume_give_the_uninterrupted_store(tmp_path, tiny_model):
    pipeline = Pipeline(tiny_model, tmp_path)
    forkserver.ensure_running()  # the grading workers' server, which every fork shares (`_share_the_forkserver`)
    store = tmp_path / "run"
    rng = np.random.default_rng(FAULT_SEED)
    k = K_STEP
    writers = {  # name -> (the run, its hold points, how many passages of the point before the kill, at most)
        "sample base": (lambda: pipeline.sample(store, "base", k), ["commit:samples"], 4),
        "sample rl": (lambda: pipeline.sample(store, "rl", k), ["commit:samples", "commit:tasks"], 4),
        "grade": (lambda: pipeline.grade(store), ["commit:verdicts", "group:linked-one"], 3),
        "import": (lambda: pipeline.import_(store), ["commit:samples", "group:linked-one"], 2),
    }
    outcomes: dict[str, int] = {}
    done: set[str] = set()  # writers that finished their work, until a repair or a larger k gives them more
    flipped: dict[str, str] = {}  # shard (relative) -> digest of its damaged bytes, since the last repair
    kills = rounds = repairs = 0
    while kills < FAULTS:
        rounds += 1
        assert rounds < 10 * FAULTS, outcomes
        if {"sample base", "sample rl"} <= done:
            k += K_STEP
            done -= {"sample base", "sample rl", "grade"}
        if rounds <= len(FIRST):  # each writer killed once for sure, then chance
            name, point, after = FIRST[rounds - 1]
        else:
            choices = [name for name in writers if name not in done] or list(writers)
            weights = np.array([WEIGHTS[name] for name in choices])
            name = str(rng.choice(choices, p=weights / weights.sum()))
            point, after = str(rng.choice(writers[name][1])), int(rng.integers(0, writers[name][2]))
        outcome = killed_at(Hold(tmp_path / "hold", point, after), writers[name][0])
        assert outcome == "killed" or rounds > len(FIRST), (name, outcome)
        kills += outcome == "killed"
        if outcome == "done":
            done.add(name)
        key = f"{name}: {outcome.split(':')[0]}"
        outcomes[key] = outcomes.get(key, 0) + 1
        if rounds == len(FIRST) or rounds > len(FIRST) and rng.random() < 0.2:  # a byte flipped behind tether's back
            flipped.update(_flip_one(store, rng))
        if flipped and (outcome.startswith("refused") or rng.random() < 0.3):  # writers refuse damage: repair
            _repair(store, flipped)
            repairs += 1
            flipped = {}
            done -= {"sample base", "sample rl", "grade"}
    print(f"{kills} kills in {rounds} rounds, {repairs} repairs, k = {k}: {outcomes}")

    _repair(store, flipped)
    pipeline.complete(store, k)  # the resume: each writer once more, in this process
    reference = tmp_path / "reference"
    pipeline.complete(reference, k)  # the same, never interrupted
    final = check_store(open_store(store))
    assert final.problems == [] and final.warnings == [], final
    assert not list(store.rglob(".*.tmp-*")) and not list((store / ".pending").glob("*"))
    for label in ("base", "rl", "imp"):
        assert _samples(store, label) == _samples(reference, label), label
        assert _counts(store, label) == _counts(reference, label), label
