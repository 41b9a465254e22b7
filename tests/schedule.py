"""How the suite shares the machine's cores between pytest-xdist workers (`make test` runs `-n 2`).

Most tests leave a core idle (one torch thread, waits on subprocesses and servers), so two workers
run the suite in a good deal less time than one. Three rules keep what is expensive built once:

- **A module runs on one worker.** Module-scoped fixtures (the Ray cluster, the moto server, a
  sampled store) are built once, as in a run without workers.
- **The tests on SmolLM2 and its servers form one unit, run on the first worker (``gw0``), last.**
  That worker alone converts SmolLM2 and starts the servers in the background (`EarlyStart`), from
  the start of the run, while both workers run the other tests.
- **The other worker never waits for them:** when only that unit is left, it stops.

`Schedule` is xdist's own scope scheduler with these rules; the conftest hands it to xdist. Only
the workers collect, so the first worker writes the ids of the SmolLM2 tests to a file the
controller names (`SERVER_TESTS`, in the environment the workers inherit) and the scheduler reads
it once every worker has collected. (xdist's own ``xdist_group`` suffix does not reach the
scheduler under pytest 9, whose node ids are no longer ``_nodeid``.)
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

SERVERS_GROUP = "smollm2"  # the xdist_group of every test that uses SmolLM2 or its servers
SERVERS_WORKER = "gw0"
SERVER_TESTS = "TETHER_TEST_SERVER_TESTS"  # the file of the SmolLM2 tests' ids, from the first worker


def name_server_tests_file(config) -> None:
    """In xdist's controller: the file the first worker will write the SmolLM2 tests' ids to."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None and config.getvalue("dist") == "loadgroup":
        folder = tempfile.mkdtemp(prefix="tether-test-schedule-")
        os.environ[SERVER_TESTS] = str(Path(folder) / "server-tests.json")


def forget_server_tests_file() -> None:
    """In xdist's controller, at the end: the file and its folder removed."""
    path = os.environ.get(SERVER_TESTS)
    if path and os.environ.get("PYTEST_XDIST_WORKER") is None:
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def write_server_tests(ids: list[str]) -> None:
    """In the first worker: the ids of the tests on SmolLM2 and its servers, for the scheduler."""
    path = os.environ.get(SERVER_TESTS)
    if path and os.environ.get("PYTEST_XDIST_WORKER") == SERVERS_WORKER:
        staged = Path(path).with_suffix(".tmp")
        staged.write_text(json.dumps(ids))
        os.replace(staged, path)


def prepares_servers() -> bool:
    """Whether this process converts SmolLM2 and starts the servers: without xdist, or on its first worker."""
    return os.environ.get("PYTEST_XDIST_WORKER", SERVERS_WORKER) == SERVERS_WORKER


class Schedule(LoadScopeScheduling):
    """Units of work are modules, except the SmolLM2 group, which only ``gw0`` takes."""

    def schedule(self) -> None:
        if self.collection is None:  # the first call: every worker has collected, the first wrote the ids
            path = os.environ.get(SERVER_TESTS)
            self.server_tests = set(json.loads(Path(path).read_text())) if path and Path(path).exists() else set()
        super().schedule()

    def _split_scope(self, nodeid: str) -> str:
        if nodeid in self.server_tests:
            return SERVERS_GROUP
        return nodeid.split("::", 1)[0]

    def _assign_work_unit(self, node) -> None:
        mine = node.gateway.id == SERVERS_WORKER
        scopes = list(self.workqueue)
        eligible = [s for s in scopes if s != SERVERS_GROUP] or ([SERVERS_GROUP] if mine else [])
        if not eligible:
            return  # the other worker has nothing it may take
        scope = eligible[0]
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    def _reschedule(self, node) -> None:
        if node.shutting_down:
            return
        if not self.workqueue or (list(self.workqueue) == [SERVERS_GROUP] and node.gateway.id != SERVERS_WORKER):
            if not self._pending_of(self.assigned_work.get(node, {})):
                node.shutdown()
            return
        if self._pending_of(self.assigned_work.get(node, {})) > 2:
            return
        self._assign_work_unit(node)
