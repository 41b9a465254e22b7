"""Group commits: several shards that become visible together or not at all.

A single shard needs nothing more than its atomic link or put. A group (an import's samples and
verdicts, a grading chunk's verdicts and cache entries) is committed in three steps:

1. a *pending record* ``.pending/<id>.json`` naming every shard of the group is written (atomically);
2. the shards are linked (or put) one by one;
3. the record is removed: that removal is the commit.

Readers skip every shard a pending record names, so a writer killed between steps 1 and 3 leaves
shards that nobody counts. The next writer of the same labels (holding their locks, so the dead
writer is certainly gone) or ``tether check --repair`` rolls the group back: its shards are moved to
``quarantine/``, never deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field

PENDING = ".pending"


@dataclass(frozen=True)
class PendingGroup:
    """What a pending record says: the group's shards (paths relative to the store's root), the
    labels its writer held, and who the writer was."""

    shards: tuple[str, ...]
    labels: tuple[str, ...]
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    since: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def name(self) -> str:
        return f"{self.id}.json"

    def to_json(self) -> str:
        payload = asdict(self)
        payload["shards"], payload["labels"] = list(self.shards), list(self.labels)
        return json.dumps(payload, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> PendingGroup:
        payload = json.loads(text)
        return cls(**{**payload, "shards": tuple(payload["shards"]), "labels": tuple(payload["labels"])})

    def writer_alive(self) -> bool:
        """True while the process that wrote the record runs on this host. (Of a writer on another
        host nothing is known here: whoever holds the group's label locks knows it is gone.)"""
        return self.host == socket.gethostname() and process_alive(self.pid)


def process_alive(pid: int) -> bool:
    """True when a process `pid` runs on this host (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_labels(shards) -> tuple[str, ...]:
    """The labels whose writer locks cover a group: every partition but the grade cache's verifiers."""
    return tuple(sorted({s.partition for s in shards if s.table != "grades"}))
