"""What every local API emulator gets from the runner: data folders, a simulated clock, credentials, faults, counters.

Each emulator module (``cafe24``, ``shopify``, ``solapi``, ``channeltalk``, ``webhook``) exposes
``create_app(ctx: EmulatorContext) -> fastapi.FastAPI``; :mod:`testbed.emulators.runner` serves them all on loopback in
one process, sharing one context so that the messaging emulator's simulated customer responses (clicks, orders) show
up in the storefront emulator and the event drops.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


class Stats:
    """Thread-safe counters the tests and benchmarks read through each emulator's ``GET /_emulator/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def snapshot(self, prefix: str = "") -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self._counts.items() if k.startswith(prefix)}

    def reset(self, prefix: str = "") -> None:
        """Clears every counter, or only those whose key starts with ``prefix``."""
        with self._lock:
            if not prefix:
                self._counts.clear()
                return
            for key in [k for k in self._counts if k.startswith(prefix)]:
                del self._counts[key]


class SimClock:
    """The emulators' notion of "now": fixed (set by the demo/test harness) so runs are replayable.

    Emulators whose world moves with time register a listener (:meth:`on_change`): whatever became due by the new
    time (deliveries, the simulated customers' clicks and orders) then exists as soon as the clock is set, before
    any client looks at it — not only once some later request happens to reach that emulator.
    """

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware datetime")
        self._now = now
        self._lock = threading.Lock()
        self._listeners: list[Callable[[datetime], None]] = []

    def on_change(self, listener: Callable[[datetime], None]) -> Callable[[], None]:
        """Calls ``listener(now)`` after every :meth:`set`; returns a function that unregisters it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware datetime")
        with self._lock:
            self._now = now
            listeners = list(self._listeners)
        for listener in listeners:
            listener(now)


@dataclass
class EmulatorContext:
    """Shared state of one emulator process."""

    shop_dir: Path
    state_dir: Path
    drops_dir: Path
    clock: SimClock
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    faults: Any = None  # testbed.emulators.faults.FaultConfig
    stats: Stats = field(default_factory=Stats)
    options: dict[str, Any] = field(default_factory=dict)
