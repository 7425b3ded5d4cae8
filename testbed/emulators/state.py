"""Small persistence and pacing helpers shared by the emulators: one SQLite file per emulator, a token bucket.

State lives in ``<state_dir>/<api>.sqlite`` so that an emulator restarted between demo runs remembers what the
real service would remember (sent messages, used signatures, users). The connection is shared by the threads of
one process behind a lock; WAL mode keeps readers from blocking on the single writer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StateDB:
    """A SQLite database file guarded by a lock (``with db.tx() as conn: ...`` runs one transaction)."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(schema)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """Runs the block as one transaction (committed on success, rolled back on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Runs a read-only statement and returns all rows."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class TokenBucket:
    """Token bucket on the wall clock (rate limits are about real request pace, not the simulated clock).

    ``capacity`` tokens at most, refilled at ``rate`` tokens per second. A leaky bucket of size N draining r/s
    (Cafe24, Shopify) admits exactly the same request sequences as a token bucket of capacity N refilled at r/s.
    """

    def __init__(self, capacity: float, rate: float, clock=time.monotonic) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("token bucket needs a positive capacity and rate")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock()
        self._lock = threading.Lock()

    def take(self, n: float = 1.0) -> tuple[bool, int, float]:
        """Takes ``n`` tokens if available. Returns (allowed, tokens left, seconds until the bucket is full)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            allowed = self._tokens >= n
            if allowed:
                self._tokens -= n
            until_full = (self.capacity - self._tokens) / self.rate
            return allowed, int(self._tokens), until_full

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens will be available (0 when they are now)."""
        with self._lock:
            now = self._clock()
            tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            return max(0.0, (n - tokens) / self.rate)
