"""How the suite shares the machine's cores between pytest-xdist workers (`make test` runs `-n 2`).

Most tests leave a core idle (one torch thread, waits on subprocesses and servers), so two workers
run the suite in a good deal less time than one. These rules keep what is expensive built once:

- **A module runs on one worker.** Module-scoped fixtures (the Ray cluster, the moto server, a
  sampled store) are built once, as in a run without workers.
- **The tests on the vLLM and `transformers serve` servers are one unit, run last on the first
  worker (``gw0``).** That worker alone converts SmolLM2 and starts the servers in the background
  (`EarlyStart`), from the start of the run, while both workers run the other tests.
- **The tests on SmolLM2 without a server are one unit too**, run last, by preference on the other
  worker; its conversion there waits for the first worker's (a lock), so SmolLM2 is converted once.
- **The tests on the lab's quick pair (`quick_demo`, trained once per worker) are one unit.**
- A worker stops when only units it may not take are left.

`Schedule` is xdist's own scope scheduler with these rules; the conftest hands it to xdist. Only
the workers collect, so the first worker writes each grouped test's unit to a file the controller
names (`GROUPS_FILE`, in the environment the workers inherit), and the scheduler reads it once every
worker has collected. (xdist's own ``xdist_group`` suffix does not reach the scheduler under
pytest 9, whose node ids are no longer ``_nodeid``.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist is in the dev extra; without it the suite runs in one process
    LoadScopeScheduling = object

FIRST_WORKER = "gw0"
GROUPS_FILE = "TETHER_TEST_GROUPS"  # {test id: unit} for the grouped tests, written by the first worker
# a test's unit: the first group whose fixtures it uses (in this order)
GROUPS = {"servers": {"vllm_server", "transformers_server"}, "smollm2": {"smollm2"}, "lab-quick": {"quick_demo"}}
PINNED = {"servers": FIRST_WORKER}  # units only that worker takes
PREFERRED_ELSEWHERE = "smollm2"  # the first worker takes it only when nothing else is left


def group_of(fixturenames) -> str | None:
    used = set(fixturenames)
    return next((name for name, fixtures in GROUPS.items() if fixtures & used), None)


def prepares_servers() -> bool:
    """Whether this process converts SmolLM2 and starts the servers: without xdist, or on its first worker."""
    return os.environ.get("PYTEST_XDIST_WORKER", FIRST_WORKER) == FIRST_WORKER


def name_groups_file(config) -> None:
    """In xdist's controller: the file the first worker will write the grouped tests to."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None and config.getvalue("dist") == "loadgroup":
        folder = tempfile.mkdtemp(prefix="tether-test-schedule-")
        os.environ[GROUPS_FILE] = str(Path(folder) / "groups.json")


def forget_groups_file() -> None:
    """In xdist's controller, at the end: the file and its folder removed."""
    path = os.environ.get(GROUPS_FILE)
    if path and os.environ.get("PYTEST_XDIST_WORKER") is None:
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def write_groups(items) -> None:
    """In the first worker: each grouped test's unit, for the scheduler."""
    path = os.environ.get(GROUPS_FILE)
    if path and os.environ.get("PYTEST_XDIST_WORKER") == FIRST_WORKER:
        groups = {item.nodeid: group for item in items if (group := group_of(item.fixturenames))}
        staged = Path(path).with_suffix(".tmp")
        staged.write_text(json.dumps(groups))
        os.replace(staged, path)


class Schedule(LoadScopeScheduling):
    """Units of work are modules, or the groups above; a pinned unit goes only to its worker."""

    def schedule(self) -> None:
        if self.collection is None:  # the first call: every worker has collected, the first wrote the groups
            path = os.environ.get(GROUPS_FILE)
            self.groups = json.loads(Path(path).read_text()) if path and Path(path).exists() else {}
        super().schedule()

    def _split_scope(self, nodeid: str) -> str:
        return self.groups.get(nodeid) or nodeid.split("::", 1)[0]

    def _eligible(self, node) -> list[str]:
        worker = node.gateway.id
        units = [u for u in self.workqueue if PINNED.get(u, worker) == worker]
        if worker == FIRST_WORKER:  # the other worker's preferred unit last
            units.sort(key=lambda unit: unit == PREFERRED_ELSEWHERE)
        return units

    def _assign_work_unit(self, node) -> None:
        eligible = self._eligible(node)
        if not eligible:
            return
        scope = eligible[0]
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    def _reschedule(self, node) -> None:
        if node.shutting_down:
            return
        if not self._eligible(node):
            if not self._pending_of(self.assigned_work.get(node, {})):
                node.shutdown()
            return
        if self._pending_of(self.assigned_work.get(node, {})) > 2:
            return
        self._assign_work_unit(node)
