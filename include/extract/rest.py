"""Paging API extraction on top of the shared HTTP layer (:mod:`include.core.http`): errors, paginators, guards.

The client is :func:`include.core.http.rest_client` (dlt's ``RESTClient`` over dlt's retrying session, throttled,
signed per attempt and counted); what is specific to reading list endpoints page by page lives here:

- the extraction errors: every failure names the endpoint and page (:class:`ApiError` is also a
  :class:`~include.core.http.HttpError`, so ``status`` means the same everywhere);
- paginators dlt has no equivalent for (:class:`CappedOffsetPaginator`, :class:`KeysetPaginator`); dlt's own
  ``OffsetPaginator``, ``HeaderLinkPaginator`` and ``JSONResponseCursorPaginator`` are used as they are;
- the **duplicate-page guard** (:class:`DuplicatePageGuard`): a page whose keys equal the previous page served on
  the same path is re-requested instead of being taken (an intermediary replaying a page would otherwise make the
  real page silently disappear); a repeat that survives two re-requests is genuine and accepted;
- :func:`iterate_pages`, :func:`get_json`, :func:`check_page_body` and :func:`count_value`, which turn what the
  retries could not fix into those errors instead of an empty result;
- :class:`ReadAhead`, which fetches the next pages while the previous ones are validated and written.

Nothing here logs a header, a token or a body.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import requests
from dlt.common import jsonpath
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, OffsetPaginator

from include.core.http import HttpError, HttpStats, error_text

log = logging.getLogger(__name__)
T = TypeVar("T")


class ExtractionError(RuntimeError):
    """An extraction could not complete; the message names the endpoint and page."""


class ApiError(ExtractionError, HttpError):
    """The API refused a request (after retries where retrying made sense); ``status`` is its HTTP status."""


class MalformedResponseError(ExtractionError):
    """A page kept answering a body that is not valid JSON."""


class OffsetCapReached(ExtractionError):
    """Paging a window would pass the endpoint's offset cap; the caller splits the window."""


class CappedOffsetPaginator(OffsetPaginator):
    """Offset paging that stops on a short page and refuses to pass the endpoint's offset cap."""

    def __init__(self, limit: int, cap: int) -> None:
        super().__init__(limit=limit, total_path=None, stop_after_empty_page=True)
        self.cap = cap

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if data is not None and len(data) < self.limit:
            self._has_next_page = False
        if self._has_next_page and self.current_value > self.cap:
            raise OffsetCapReached(f"next offset {self.current_value} is over the cap {self.cap}")


class KeysetPaginator(BasePaginator):
    """Keyset paging: the next request carries the last item's ``field`` in ``param`` (``since_product_no``,
    ``created_start_date``); stops on a short page. With ``inclusive`` the boundary item comes again (and is
    deduplicated by the caller); a page that would not move the key forward raises instead of looping."""

    def __init__(self, param: str, field_name: str, limit: int, *, inclusive: bool = False) -> None:
        super().__init__()
        self.param, self.field, self.limit, self.inclusive = param, field_name, limit, inclusive
        self._value: Any = None
        self._first: Any = None

    def init_request(self, request: Any) -> None:
        self._has_next_page = True
        self._first = (request.params or {}).get(self.param)

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        if not data or len(data) < self.limit:
            self._has_next_page = False
            return
        value = data[-1].get(self.field)
        if value is None or (self.inclusive and value == (self._value or self._first)):
            raise ExtractionError(f"keyset paging on {self.field} cannot advance past {value!r}")
        self._value = value

    def update_request(self, request: Any) -> None:
        if request.params is None:
            request.params = {}
        request.params[self.param] = self._value


class DuplicatePageGuard(BasePaginator):
    """Wraps a paginator; a page repeating the previous page of the same path is re-requested, not taken."""

    def __init__(
        self, inner: BasePaginator, key: Callable[[dict], Any], memory: dict[str, tuple], path: str
    ) -> None:
        super().__init__()
        self.inner, self.key, self.memory, self.path = inner, key, memory, path
        self.repeats = 0
        self.skip_last = False

    @property
    def has_next_page(self) -> bool:
        return self.skip_last or self.inner.has_next_page

    def init_request(self, request: Any) -> None:
        self.inner.init_request(request)

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        keys = tuple(self.key(d) for d in data or [])
        if keys and keys == self.memory.get(self.path) and self.repeats < 2:
            self.repeats += 1
            self.skip_last = True
            return
        self.repeats, self.skip_last = 0, False
        if keys:
            self.memory[self.path] = keys
        self.inner.update_state(response, data)

    def update_request(self, request: Any) -> None:
        if not self.skip_last:
            self.inner.update_request(request)


def iterate_pages(
    client: RESTClient,
    path: str,
    *,
    params: dict[str, Any],
    paginator: BasePaginator,
    data_selector: str,
    key: Callable[[dict], Any],
    stats: HttpStats,
    memory: dict[str, tuple],
    label: str,
) -> Iterator[list[dict]]:
    """Pages of items from ``path``; raises :class:`ApiError`/:class:`MalformedResponseError` naming the page."""
    guard = DuplicatePageGuard(paginator, key, memory, path)
    selector = _selector(data_selector)  # dlt would parse the JSONPath again for every page (~50 ms each)
    pages = client.paginate(path, params=dict(params), paginator=guard, data_selector=selector)
    page_no = 0
    while True:
        where = f"{label}: GET {path} page {page_no + 1} ({_describe(params)})"
        try:
            page = next(pages)
        except StopIteration:
            return
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            raise ApiError(f"{where} failed: HTTP {status} {_message(exc.response)}", status=status) from exc
        except (
            requests.exceptions.JSONDecodeError,
            json.JSONDecodeError,
        ) as exc:  # after the retries ran out
            raise MalformedResponseError(f"{where} kept answering a body that is not valid JSON") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ApiError(f"{where} failed after retries: {type(exc).__name__}") from exc
        if guard.skip_last:
            stats.duplicate_pages += 1
            log.warning("%s repeated the previous page; requesting it again", where)
            continue
        if not page:  # an empty page ends the paging: make sure it is one, not a body without the data at all
            check_page_body(page.response, data_selector, where)
        page_no += 1
        stats.pages += 1
        stats.records += len(page)
        yield list(page)


def check_page_body(response: requests.Response, data_selector: str, where: str) -> None:
    """Raises :class:`MalformedResponseError` unless the body holds a list or object under the selector's first
    key (``orders``, ``messageList``): a missing or null key would otherwise read as "no more rows"."""
    root = data_selector.split(".", 1)[0]
    try:
        doc = response.json()
    except ValueError as exc:
        raise MalformedResponseError(f"{where} answered a body that is not valid JSON") from exc
    value = doc.get(root) if isinstance(doc, dict) else None
    if not isinstance(value, list | dict):
        got = (
            f"a JSON {type(doc).__name__}"
            if not isinstance(doc, dict)
            else f"{root}={json.dumps(value)[:40]}"
        )
        raise MalformedResponseError(f"{where} answered without a list under '{root}' (got {got})")


def count_value(doc: Any, where: str) -> int:
    """The ``count`` of a ``/count`` answer; raises :class:`MalformedResponseError` unless it is a whole number ≥ 0
    (a missing count read as 0 would skip the window silently)."""
    value = doc.get("count") if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponseError(f"{where} answered without a whole-number count (got {str(doc)[:60]!r})")
    try:
        count = int(value)
    except ValueError as exc:
        raise MalformedResponseError(
            f"{where} answered a count that is not a number: {value[:40]!r}"
        ) from exc
    if count < 0:
        raise MalformedResponseError(f"{where} answered a negative count {count}")
    return count


@functools.lru_cache(maxsize=64)
def _selector(path: str) -> Any:
    return jsonpath.compile_path(path)


def get_json(client: RESTClient, path: str, params: dict[str, Any], label: str) -> Any:
    """One GET answered with JSON (retried like pages); raises naming the endpoint."""
    where = f"{label}: GET {path} ({_describe(params)})"
    try:
        response = client.get(path, params=params)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ApiError(f"{where} failed after retries: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise ApiError(
            f"{where} failed: HTTP {response.status_code} {_message(response)}", status=response.status_code
        )
    try:
        return response.json()
    except (requests.exceptions.JSONDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResponseError(f"{where} kept answering a body that is not valid JSON") from exc


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("access_token",))


def _message(response: requests.Response | None) -> str:
    return error_text(response)[1]


_END = object()


def _next(items: Iterator[Any]) -> Any:
    return next(items, _END)


class ReadAhead:
    """Fetches pages ahead of the code that processes them, on one thread per API client.

    dlt validates and writes what a resource yields in the thread that pulls its pages, so inline the next request
    waits for that work and a paced client falls behind the bucket it may use (measured at S: 1-2 s of work per
    5,000 orders, while the bucket frees a call every 0.5 s). Here one thread advances every paging loop handed to
    :meth:`pages`, up to ``depth`` pages ahead of that loop's consumer.

    Paging is unchanged: each loop is the same generator asking for the same pages in the same order (paginators,
    window splits, counts and the duplicate-page guard run in it as before); only *when* a page is fetched moves.
    All requests of the client go out from the one thread, one at a time: the pacing's mirror of the server's
    bucket relies on that (:class:`include.core.http.Throttle`), and the HTTP counters keep a single writer. An
    error of a loop reaches its consumer where the failing page would have, after the pages before it.
    ``stats.page_wait_s`` adds up how long the consumer waited for pages. :meth:`close` stops the thread.
    """

    def __init__(self, stats: HttpStats | None = None, depth: int = 8) -> None:
        if depth < 1:
            raise ValueError("read-ahead depth must be at least 1 page")
        self.stats, self.depth = stats, depth
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # one worker: its queue is FIFO, so each loop's next() calls run in order and never two at once
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
            return self._pool

    def pages(self, source: Iterable[T]) -> Iterator[T]:
        """The items of ``source`` in order, each fetched on the read-ahead thread before it is asked for."""
        items = iter(source)
        pool = self._executor()
        pending: deque[Future] = deque(pool.submit(_next, items) for _ in range(self.depth))
        try:
            while True:
                asked = time.monotonic()
                try:
                    item = pending.popleft().result()  # raises the loop's error here, in order
                finally:
                    if self.stats is not None:
                        self.stats.page_wait_s += time.monotonic() - asked
                if item is _END:
                    return
                pending.append(pool.submit(_next, items))
                yield item
        finally:
            for future in pending:
                future.cancel()
            try:  # on the same thread, after any next() still running: a generator runs in one thread at a time
                pool.submit(getattr(items, "close", lambda: None))
            except RuntimeError:  # the pool is already shut down (close): nothing will run the loop again
                pass

    def close(self) -> None:
        """Stops the thread once the request in flight (if any) ends; pages not yet fetched are not."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
