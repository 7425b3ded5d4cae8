"""ReadAhead: pages come in order, fetched on one thread ahead of the consumer, errors where the page would be."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from include.core.http import HttpStats
from include.extract.rest import ReadAhead


class Gauge:
    """How many loop steps run at once, at most."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self.lock = threading.Lock()


class Loop:
    """A paging loop that records which thread runs it and, in ``gauge``, how many steps ever run at once."""

    def __init__(self, name: str, pages: int, fail_at: int | None = None, gauge: Gauge | None = None) -> None:
        self.name, self.count, self.fail_at = name, pages, fail_at
        self.gauge = gauge or Gauge()
        self.threads: set[int] = set()
        self.produced = 0
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[list[str]]:
        g = self.gauge
        try:
            for n in range(self.count):
                with g.lock:
                    g.running += 1
                    g.most = max(g.most, g.running)
                self.threads.add(threading.get_ident())
                time.sleep(0.002)  # a request's worth of letting other threads run
                with g.lock:
                    g.running -= 1
                if n == self.fail_at:
                    raise ValueError(f"{self.name} page {n} failed")
                self.produced += 1
                yield [f"{self.name}-{n}"]
        finally:
            self.closed.set()


def test_pages_arrive_in_order_from_one_thread_that_never_runs_two_loops_at_once() -> None:
    reader = ReadAhead(HttpStats(), depth=3)
    gauge = Gauge()
    a, b = Loop("a", 20, gauge=gauge), Loop("b", 15, gauge=gauge)
    out: dict[str, list[str]] = {"a": [], "b": []}
    try:
        loops = {"a": reader.pages(a), "b": reader.pages(b)}
        while loops:  # interleaved, as dlt pulls its resources
            for name, pages in list(loops.items()):
                page = next(pages, None)
                if page is None:
                    del loops[name]
                else:
                    out[name] += page
    finally:
        reader.close()
    assert out == {"a": [f"a-{n}" for n in range(20)], "b": [f"b-{n}" for n in range(15)]}
    assert a.threads == b.threads and len(a.threads) == 1
    assert threading.get_ident() not in a.threads  # fetched on the read-ahead thread, not the consumer's
    assert gauge.most == 1  # one request at a time: what the pacing's mirror of the bucket relies on


def test_it_reads_at_most_depth_pages_ahead() -> None:
    reader = ReadAhead(depth=4)
    loop = Loop("x", 100)
    try:
        pages = reader.pages(loop)
        assert next(pages) == ["x-0"]
        deadline = time.monotonic() + 10
        while loop.produced < 1 + 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # time enough to overrun, if it would
        assert loop.produced == 1 + 4
        assert next(pages) == ["x-1"]
    finally:
        reader.close()


def test_an_error_arrives_after_the_pages_before_it() -> None:
    reader = ReadAhead(depth=8)
    try:
        got = []
        with pytest.raises(ValueError, match="e page 3 failed"):
            for page in reader.pages(Loop("e", 10, fail_at=3)):
                got += page
    finally:
        reader.close()
    assert got == ["e-0", "e-1", "e-2"]


def test_a_consumer_that_stops_early_closes_the_loop() -> None:
    stats = HttpStats()
    reader = ReadAhead(stats, depth=2)
    loop = Loop("s", 1000)
    try:
        pages = reader.pages(loop)
        assert next(pages) == ["s-0"]
        pages.close()
        assert loop.closed.wait(10)  # its finally ran (on the read-ahead thread), so it asks for nothing more
        assert loop.produced <= 1 + 2
    finally:
        reader.close()
    assert stats.page_wait_s > 0


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReadAhead(depth=0)
