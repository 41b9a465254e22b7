"""Locks on object storage: a lock object with a lease, taken by a conditional put.

There is no ``flock`` on S3. A lock is the object ``<store>/.locks/<name>.json`` holding who took
it, a random token and when its lease ends. It is taken with a *create-only* put (S3's
``If-None-Match: *``, which S3, MinIO and moto honour; other fsspec filesystems check first, then
put), so of two writers racing for it exactly one gets it. The holder renews the lease every third
of its length from a background thread and deletes the object when done. A holder killed without
releasing leaves a lock that expires after one lease (`LEASE_SECONDS`); the next writer then takes
it over; that takeover (a delete, then a create-only put) is the one step that is not atomic,
so two writers starting within the same instant after a crash could both take it. Leases compare wall clocks: hosts sharing a store need clocks within a few seconds of
each other (NTP), far less than a lease.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from tether.errors import StoreError

LEASE_SECONDS = 60.0


@dataclass
class Lease:
    """A lock object held by this process; `release` it (or use it as a context manager)."""

    fs: object
    key: str
    holder: str
    seconds: float = LEASE_SECONDS
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _stop: threading.Event = field(default_factory=threading.Event)

    def body(self) -> bytes:
        return json.dumps({"holder": self.holder, "token": self.token, "expires": time.time() + self.seconds}).encode()

    def renew_until_released(self) -> None:
        def renew() -> None:
            while not self._stop.wait(self.seconds / 3):
                current = read_lock(self.fs, self.key)
                if current is None or current.get("token") != self.token:
                    return  # taken over after this process stalled past its lease: nothing left to renew
                self.fs.pipe_file(self.key, self.body())

        threading.Thread(target=renew, name=f"lease {self.key}", daemon=True).start()

    def release(self) -> None:
        self._stop.set()
        current = read_lock(self.fs, self.key)
        if current is not None and current.get("token") == self.token:
            self.fs.rm_file(self.key)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def read_lock(fs, key: str) -> dict | None:
    """The lock object's content, or None when there is none."""
    fs.invalidate_cache()
    try:
        found = json.loads(fs.cat_file(key))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"holder": "an unreadable lock object", "token": "", "expires": 0.0}
    return found if isinstance(found, dict) else {"holder": "an unreadable lock object", "token": "", "expires": 0.0}


def take(fs, key: str, holder: str, seconds: float = LEASE_SECONDS, wait: float = 0.0) -> Lease:
    """Take the lock `key` (waiting up to `wait` seconds for it), or raise StoreError naming its holder."""
    lease = Lease(fs, key, holder, seconds)
    deadline = time.monotonic() + wait
    while True:
        current = _try_take(lease)
        if current is None:
            lease.renew_until_released()
            return lease
        if time.monotonic() >= deadline:
            raise StoreError(f"held by {current.get('holder', 'another process')}")
        time.sleep(0.2)


def _try_take(lease: Lease) -> dict | None:
    """None when `lease` is now held; else what holds it. An expired lock is deleted and retried once."""
    for _ in range(2):
        try:
            lease.fs.pipe_file(lease.key, lease.body(), mode="create")
        except FileExistsError:
            current = read_lock(lease.fs, lease.key)
            if current is None:
                continue  # released meanwhile
            if float(current.get("expires", 0.0)) > time.time():
                return current
            lease.fs.rm_file(lease.key)  # its holder died without releasing; the lease ran out
            continue
        mine = read_lock(lease.fs, lease.key)  # where the put was not conditional, the last writer wins
        if mine is not None and mine.get("token") == lease.token:
            return None
        return mine or {"holder": "another process"}
    return read_lock(lease.fs, lease.key) or {"holder": "another process"}
