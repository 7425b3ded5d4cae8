"""The REST layer the API extractors share: dlt's REST client with retries, pacing, guards and honest errors.

Built from dlt's own pieces (``dlt.sources.helpers.requests.Client`` for retries, ``RESTClient`` and its
paginators) plus what the storefront APIs need on top:

- **retries** (tenacity inside dlt's client): 429 and 5xx (honouring ``Retry-After``), connection resets and
  timeouts, and a ``200`` whose JSON body does not parse (a cut-off page is usually transient); when they run out
  the page fails loudly with :class:`MalformedResponseError` / :class:`ApiError` naming the endpoint and page;
- **proactive pacing** (:class:`Pacer`, in a transport adapter so it runs before every attempt): a client-side
  mirror of the server's leaky bucket, fed by its call-limit header (``X-Api-Call-Limit: n/40``,
  ``X-Shopify-Shop-Api-Call-Limit``), waits before the bucket reaches its high-water mark instead of running
  into 429s; a 429 blocks further sends for ``Retry-After`` seconds;
- **per-attempt signing** for APIs whose signatures may not be reused (Solapi HMAC);
- **duplicate-page guard** (:class:`DuplicatePageGuard`): a page whose keys equal the previous page served on the
  same path is re-requested instead of being taken (an intermediary replaying a page would otherwise make the
  real page silently disappear); a repeat that survives two re-requests is genuine and accepted;
- :class:`HttpStats`: requests, statuses, 429s, retries, pacing waits, pages and records, for the run summary.

Nothing here logs a header, a token or a body.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from dlt.common import jsonpath
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, OffsetPaginator
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)


class ExtractionError(RuntimeError):
    """An extraction could not complete; the message names the endpoint and page."""


class ApiError(ExtractionError):
    """The API refused a request (after retries where retrying made sense)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MalformedResponseError(ExtractionError):
    """A page kept answering a body that is not valid JSON."""


class OffsetCapReached(ExtractionError):
    """Paging a window would pass the endpoint's offset cap; the caller splits the window."""


@dataclass
class HttpStats:
    """Counters of one extraction run."""

    requests: int = 0
    retries: int = 0
    status: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    malformed_bodies: int = 0
    duplicate_pages: int = 0
    token_refreshes: int = 0
    pacing_wait_s: float = 0.0
    pages: int = 0
    records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "http_429": self.status.get(429, 0),
            "http_5xx": sum(n for s, n in self.status.items() if s >= 500),
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "connection_errors": self.connection_errors,
            "malformed_bodies": self.malformed_bodies,
            "duplicate_pages": self.duplicate_pages,
            "token_refreshes": self.token_refreshes,
            "pacing_wait_s": round(self.pacing_wait_s, 3),
            "pages": self.pages,
            "records": self.records,
        }


@dataclass(frozen=True)
class HttpPolicy:
    """Retry, timeout and pacing settings; connection ``extra`` may override each."""

    max_attempts: int = 8
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 60.0
    pacing: bool = True
    high_water: float = 0.75

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> HttpPolicy:
        d = cls()
        return cls(
            max_attempts=int(extra.get("max_attempts", d.max_attempts)),
            backoff_s=float(extra.get("retry_backoff_s", d.backoff_s)),
            max_backoff_s=float(extra.get("retry_max_s", d.max_backoff_s)),
            timeout_s=float(extra.get("timeout_s", d.timeout_s)),
            pacing=str(extra.get("pacing", d.pacing)).strip().lower() not in ("false", "0", "no", "off"),
            high_water=float(extra.get("pacing_high_water", d.high_water)),
        )


class Pacer:
    """Client-side mirror of a server leaky bucket (``capacity`` calls draining ``drain_per_s``)."""

    def __init__(
        self, header: str | None, capacity: int, drain_per_s: float, stats: HttpStats, *, high_water: float = 0.75,
        enabled: bool = True,
    ) -> None:  # fmt: skip
        self.header = header.lower() if header else None
        self.capacity = capacity
        self.drain_per_s = drain_per_s
        self.high_water = high_water
        self.enabled = enabled
        self.stats = stats
        self._level = 0.0
        self._t = time.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Sleeps until one more call fits under the high-water mark (and past any Retry-After)."""
        with self._lock:
            now = time.monotonic()
            delay = max(0.0, self._blocked_until - now)
            if self.enabled:
                level = max(0.0, self._level - (now - self._t) * self.drain_per_s)
                mark = max(1.0, self.capacity * self.high_water)
                if level + 1 > mark:
                    delay = max(delay, (level + 1 - mark) / self.drain_per_s)
        if delay > 0:
            self.stats.pacing_wait_s += delay
            time.sleep(delay)

    def observe(self, response: requests.Response) -> None:
        """Takes the bucket level from the call-limit header; a 429 blocks sends for ``Retry-After``."""
        with self._lock:
            now = time.monotonic()
            raw = response.headers.get(self.header) if self.header else None
            if raw and "/" in raw:
                used, _, cap = raw.partition("/")
                try:
                    self._level, self.capacity = float(used), int(cap)
                    self._t = now
                except ValueError:
                    pass
            if response.status_code == 429:
                retry_after = _seconds(response.headers.get("Retry-After"))
                wait = retry_after if retry_after is not None else 1.0 / self.drain_per_s
                self._blocked_until = max(self._blocked_until, now + wait)
                self._level, self._t = float(self.capacity), now


def _seconds(raw: str | None) -> float | None:
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


class _PacedAdapter(HTTPAdapter):
    """Runs around every attempt (retries included): signing, pacing, counting."""

    def __init__(self, pacer: Pacer, stats: HttpStats, sign: Callable[[Any], dict[str, str]] | None) -> None:
        super().__init__(pool_maxsize=4)
        self.pacer, self.stats, self.sign = pacer, stats, sign
        self._last: Any = None

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if request is self._last:
            self.stats.retries += 1  # dlt's retry loop re-sends the same prepared request
        self._last = request
        if self.sign is not None:
            request.headers.update(self.sign(request))
        self.pacer.wait()
        self.stats.requests += 1
        try:
            response = super().send(request, *args, **kwargs)
        except (requests.ConnectionError, requests.Timeout):
            self.stats.connection_errors += 1
            raise
        self.stats.status[response.status_code] += 1
        self.pacer.observe(response)
        return response


def make_client(
    base_url: str,
    *,
    stats: HttpStats,
    policy: HttpPolicy,
    pacer: Pacer,
    auth: Any = None,
    headers: dict[str, str] | None = None,
    sign: Callable[[Any], dict[str, str]] | None = None,
) -> RESTClient:
    """A dlt ``RESTClient`` whose session retries, paces, signs and counts as described in the module docstring."""

    def bad_json(response: requests.Response | None, exc: BaseException | None) -> bool:
        if response is None or response.status_code != 200:
            return False
        try:
            response.json()
            return False
        except ValueError:
            stats.malformed_bodies += 1
            return True

    session = Client(
        request_timeout=policy.timeout_s,
        raise_for_status=False,
        request_max_attempts=policy.max_attempts,
        request_backoff_factor=policy.backoff_s,
        request_max_retry_delay=policy.max_backoff_s,
        retry_condition=bad_json,
        respect_retry_after_header=True,
    ).session
    adapter = _PacedAdapter(pacer, stats, sign)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RESTClient(base_url=base_url, headers=headers, auth=auth, session=session)


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
            raise ApiError(f"{where} failed: HTTP {status} {_error_text(exc.response)}", status) from exc
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
            f"{where} failed: HTTP {response.status_code} {_error_text(response)}", response.status_code
        )
    try:
        return response.json()
    except (requests.exceptions.JSONDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResponseError(f"{where} kept answering a body that is not valid JSON") from exc


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("access_token",))


def _error_text(response: requests.Response | None) -> str:
    if response is None:
        return ""
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", ""))[:200]
    if isinstance(doc, dict):
        return str(doc.get("errors") or doc.get("errorMessage") or doc.get("error_description") or err or "")[
            :200
        ]
    return ""
