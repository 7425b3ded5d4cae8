"""One HTTP client policy for every API this project calls: the extractors (dlt's REST client) and the destinations.

- :class:`HttpPolicy`: retries, backoff, timeouts and pacing, with one set of connection-``extra`` keys and
  defaults for every connection;
- :class:`Throttle`: a client-side leaky bucket on the monotonic clock that paces requests before they are sent
  (a plain token bucket at ``rate_limit_per_s``, or a mirror of the server's bucket fed by its call-limit header
  such as ``X-Api-Call-Limit: n/40``) and holds requests back on the server's own signals: ``429`` with
  ``Retry-After``, and ``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset``;
- :class:`ThrottledAdapter`: the transport adapter both clients mount; it runs around every attempt, retries
  included: throttle, per-attempt signing (a Solapi signature may not be reused), counting into :class:`HttpStats`;
- :class:`JsonClient`: the destinations' JSON client, retrying only where it is safe. A request that never reached
  the server (connect error, ``429``) is always retried; one that may have taken effect (read timeout, connection
  reset, ``5xx``, a garbled ``200`` body) only when the caller marks it idempotent, otherwise
  :class:`AmbiguousRequestError` tells the caller to look at the server's state first; ``413`` raises
  :class:`PayloadTooLargeError` (see :func:`split_on_413`);
- :func:`rest_client`: a dlt ``RESTClient`` over dlt's retrying session (tenacity: ``429``/``5xx`` honouring
  ``Retry-After``, connection errors, timeouts, a ``200`` whose JSON does not parse), with the same adapter;
- :func:`parse_retry_after` and :func:`error_text`, the one reading of those headers and error bodies.

Nothing here logs a header, a token or a body: only method, path, status and attempt.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from dlt.sources.helpers.rest_client import RESTClient

log = logging.getLogger(__name__)
T = TypeVar("T")


# --- errors -------------------------------------------------------------------------------------------------------
class HttpError(RuntimeError):
    """A request failed; ``status`` is the HTTP status (None when no response came back)."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = body


class PermanentError(HttpError):
    """The server refused the request for a reason retrying cannot fix (4xx: auth, validation, not found)."""


class TransientError(HttpError):
    """Retries ran out on a retryable failure; the work can be tried again in a later run."""


class AmbiguousRequestError(HttpError):
    """A non-idempotent request may or may not have taken effect; check the server before repeating it."""


class PayloadTooLargeError(PermanentError):
    """413: the request body or item count is over the endpoint's limit; split it."""


# --- policy and counters ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HttpPolicy:
    """Retry, timeout and pacing settings; each field is also the connection ``extra`` key that overrides it."""

    max_attempts: int = 8  # attempts per request, the first included
    retry_base_s: float = 0.5  # backoff before retry n: up to retry_base_s * 2^(n-1)
    retry_max_s: float = 30.0  # longest backoff
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0  # read timeout
    max_retry_after_s: float = 300.0  # a server asking for a longer wait is not waited for
    pacing: bool = True  # client-side pacing (rate_limit_per_s, call-limit header)
    # How full the pacing lets the server's bucket get: ``capacity * pacing_high_water - pacing_reserve_calls``
    # calls (at least 1). The mirror of the bucket errs high (see Throttle), so one call of reserve covers what it
    # cannot know (a header rounded down, a server draining a little slower than it says), where the former 75 %
    # held back 10 of 40 calls, 5 s of bucket per run. Lower the high water to leave room for other clients of the
    # same bucket.
    pacing_high_water: float = 1.0
    pacing_reserve_calls: int = 1

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None) -> HttpPolicy:
        """The defaults, overridden by the keys of a connection's ``extra`` that name a field."""
        extra = extra or {}
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in extra:
                values[f.name] = _coerce(f.default, extra[f.name])
        return cls(**values)

    @property
    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)`` as requests takes them."""
        return self.connect_timeout_s, self.timeout_s

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retrying after the given (1-based) attempt."""
        return random.uniform(0, min(self.retry_max_s, self.retry_base_s * 2 ** (attempt - 1)))


def _coerce(default: Any, raw: Any) -> Any:
    if isinstance(default, bool):
        return str(raw).strip().lower() not in ("false", "0", "no", "off")
    return type(default)(raw)


@dataclass
class HttpStats:
    """Counters of one client (an extraction run's ``http`` summary)."""

    # the transport (every attempt, retries included)
    requests: int = 0
    retries: int = 0
    connection_errors: int = 0
    pacing_wait_s: float = 0.0  # waiting for the pacing before sending
    http_s: float = 0.0  # inside requests: sending, the server's work, reading the answer
    status: Counter = field(default_factory=Counter)
    # monotonic clock of the first attempt sent and of the last attempt finished: what an extraction does before
    # and after them is time the bucket cannot be using
    first_sent: float | None = None
    last_finished: float | None = None
    # paging and auth (extraction)
    malformed_bodies: int = 0
    duplicate_pages: int = 0
    token_refreshes: int = 0
    pages: int = 0
    records: int = 0
    # the processing waiting for the next page, where pages are read ahead (include.extract.rest.ReadAhead)
    page_wait_s: float = 0.0

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
            "http_s": round(self.http_s, 3),
            "pages": self.pages,
            "records": self.records,
            "page_wait_s": round(self.page_wait_s, 3),
        }


# --- reading the server ---------------------------------------------------------------------------------------------
def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _reset_wait(headers: Any) -> float | None:
    """Seconds until ``x-ratelimit-reset`` (epoch s or ms, or seconds to wait) when ``x-ratelimit-remaining`` is 0."""
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    if remaining is None or reset is None:
        return None
    try:
        if float(remaining) > 0:
            return None
        value = float(reset)
    except ValueError:
        return None
    if value > 1e12:  # epoch milliseconds
        return max(0.0, value / 1000 - time.time())
    if value > 1e9:  # epoch seconds
        return max(0.0, value - time.time())
    return max(0.0, value)


def error_text(response: requests.Response | None) -> tuple[str | None, str]:
    """``(code, message)`` of an error answer, in whichever shape the API writes it.

    Solapi ``{"errorCode", "errorMessage"}``; Cafe24 ``{"error": {"code", "message"}}``; Channel Talk
    ``{"type", "errors": [{"message"}]}``; OAuth 2 ``{"error": "invalid_grant", "error_description"}``; Shopify
    ``{"errors": "…"}`` (a string, a list or an object of field messages). Anything else: the body's first characters.
    """
    if response is None:
        return None, ""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict):
        err, errors = body.get("error"), body.get("errors")
        if "errorCode" in body:
            return _opt(body.get("errorCode")), str(body.get("errorMessage", ""))[:300]
        if isinstance(err, dict):
            return _opt(err.get("code")), str(err.get("message", ""))[:300]
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return _opt(body.get("type")), str(errors[0].get("message", ""))[:300]
        if isinstance(err, str):
            return err, str(body.get("error_description") or err)[:300]
        if errors:
            return None, str(errors)[:300]
    return None, str(body)[:200]


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


# --- throttle -------------------------------------------------------------------------------------------------------
class Throttle:
    """A leaky bucket of ``capacity`` calls draining ``drain_per_s``, on the monotonic clock; thread-safe.

    :meth:`acquire` waits until one more call fits under :attr:`limit` (``capacity * high_water - reserve``, at
    least 1) and past any block, then counts the call. :meth:`observe` takes the level and capacity from the
    call-limit ``header`` (``used/cap``) when the API sends one, blocks for ``Retry-After`` on a ``429`` (one drain
    interval without it) and pauses on ``x-ratelimit-remaining: 0`` until ``x-ratelimit-reset``. With
    ``capacity=1`` this is a plain token bucket at ``drain_per_s``; without ``drain_per_s`` (or with ``pacing`` off)
    it only follows the server's signals. A server wait longer than ``max_block_s`` is not blocked on: the caller
    decides (and may give up).

    Mirroring the server's bucket, the level errs high, which is why the pacing may fill the bucket to within a
    call of its capacity without provoking a ``429``: a call counts here before it is sent; the header is the level
    the server reached when it took the call and is taken as the level when the answer arrives, so the drain while
    the server worked on it is not credited (the Cafe24 emulator also rounds the level up; a server that rounds
    down errs by less than the one call of reserve). That holds while one call is in flight at a time (a header
    then counts every call sent before it), which is how the extractors use it: their requests go out from one
    thread (:class:`include.extract.rest.ReadAhead`). Calls that never reach the bucket (a fault answered before
    it, a reset connection) stay counted until the next header corrects the level.

    ``sleep`` may be replaced (tests); :meth:`acquire` then trusts it to have slept the time it was asked to.
    """

    def __init__(
        self,
        *,
        capacity: float = 1.0,
        drain_per_s: float | None = None,
        high_water: float = 1.0,
        reserve: float = 0.0,
        header: str | None = None,
        pacing: bool = True,
        max_block_s: float = 300.0,
        stats: HttpStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = float(capacity)
        self.drain_per_s = drain_per_s or 0.0
        self.high_water = high_water
        self.reserve = reserve
        self.header = header.lower() if header else None
        self.pacing = pacing and self.drain_per_s > 0
        self.max_block_s = max_block_s
        self.stats = stats
        self.sleep = sleep
        self._level = 0.0
        self._t = time.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_policy(
        cls, policy: HttpPolicy, drain_per_s: float | None, *, capacity: float = 1.0, **kw: Any
    ) -> Throttle:
        """A throttle with the policy's pacing switch, high water, reserve and longest server wait."""
        return cls(
            capacity=capacity, drain_per_s=drain_per_s, high_water=policy.pacing_high_water,
            reserve=policy.pacing_reserve_calls, pacing=policy.pacing, max_block_s=policy.max_retry_after_s, **kw,
        )  # fmt: skip

    @property
    def limit(self) -> float:
        """The most calls the pacing lets the bucket hold: ``capacity * high_water - reserve``, at least 1."""
        return max(1.0, self.capacity * self.high_water - self.reserve)

    def _level_at(self, now: float) -> float:
        return max(0.0, self._level - max(0.0, now - self._t) * self.drain_per_s)

    def _wait_at(self, now: float) -> float:
        wait = self._blocked_until - now
        if self.pacing:
            over = self._level_at(now) + 1 - self.limit
            if over > 1e-9:
                wait = max(wait, over / self.drain_per_s)
        return wait

    def acquire(self) -> float:
        """Waits until one more call may go, counts it, and returns the seconds waited."""
        waited = 0.0
        virtual = time.monotonic()  # where the clock is once the sleeps so far have passed
        while True:
            with self._lock:
                now = time.monotonic()
                virtual = max(virtual, now)
                wait = self._wait_at(virtual)
                if wait <= 0:
                    self._level, self._t = self._level_at(virtual) + 1, now
                    break
            self.sleep(wait)
            waited += wait
            virtual += wait
        if waited and self.stats is not None:
            self.stats.pacing_wait_s += waited
        return waited

    def pause_for(self, seconds: float) -> None:
        """Holds every request back for ``seconds`` from now."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + max(0.0, seconds))

    def observe(self, response: requests.Response) -> None:
        """Takes the server's signals from one response (see the class docstring)."""
        headers = response.headers
        raw = headers.get(self.header) if self.header else None
        with self._lock:
            now = time.monotonic()
            if raw and "/" in raw:
                used, _, cap = raw.partition("/")
                try:
                    self._level, self.capacity, self._t = float(used), float(cap), now
                except ValueError:
                    pass
            if response.status_code == 429:
                retry_after = parse_retry_after(headers.get("Retry-After"))
                if retry_after is None and self.drain_per_s:
                    retry_after = 1.0 / self.drain_per_s
                if retry_after is not None and retry_after <= self.max_block_s:
                    self._blocked_until = max(self._blocked_until, now + retry_after)
                self._level, self._t = max(self._level_at(now), self.capacity), now
        wait = _reset_wait(headers)
        if wait:
            self.pause_for(min(wait, self.max_block_s))


# --- transport ----------------------------------------------------------------------------------------------------
class ThrottledAdapter(HTTPAdapter):
    """Runs around every attempt (retries included): throttle, per-attempt signing, counting and timing."""

    def __init__(
        self, throttle: Throttle, stats: HttpStats, sign: Callable[[Any], dict[str, str]] | None = None
    ) -> None:
        super().__init__(pool_maxsize=4)
        self.throttle, self.stats, self.sign = throttle, stats, sign
        self._last: Any = None

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if request is self._last:
            self.stats.retries += 1  # dlt's retry loop re-sends the same prepared request
        self._last = request
        self.throttle.acquire()
        if self.sign is not None:  # after any wait: a signature carries its time
            request.headers.update(self.sign(request))
        self.stats.requests += 1
        sent = time.monotonic()
        if self.stats.first_sent is None:
            self.stats.first_sent = sent
        try:
            response = super().send(request, *args, **kwargs)
            if not kwargs.get("stream", args[0] if args else False):
                # read here rather than just after, as requests would: the body is part of the request's time
                _ = response.content
        except (requests.ConnectionError, requests.Timeout):
            self.stats.connection_errors += 1
            raise
        finally:
            self.stats.last_finished = time.monotonic()
            self.stats.http_s += self.stats.last_finished - sent
        self.stats.status[response.status_code] += 1
        self.throttle.observe(response)
        return response


def _mount(session: requests.Session, adapter: HTTPAdapter) -> None:
    session.mount("http://", adapter)
    session.mount("https://", adapter)


# --- the destinations' client -------------------------------------------------------------------------------------
class JsonClient:
    """A small JSON-over-HTTP client with the retry rules of this module.

    Args:
        base_url: scheme://host[:port][/prefix].
        name: label for logs and errors (``solapi``, ``channeltalk``, ``webhook``).
        headers: called for every attempt, after any throttle wait, with (method, path, body bytes): auth headers.
        policy: retry, timeout and pacing settings.
        rate_per_s: client-side request pacing (None: only server signals).
        sleep: how to wait (tests replace it).
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        headers: Callable[[str, str, bytes], dict[str, str]] | None = None,
        policy: HttpPolicy | None = None,
        rate_per_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.headers = headers
        self.policy = policy or HttpPolicy()
        self.sleep = sleep
        self.stats = HttpStats()
        self.throttle = Throttle.for_policy(self.policy, rate_per_s, stats=self.stats, sleep=sleep)
        self.session = requests.Session()
        sign = _signer(headers, self.base_url) if headers else None
        _mount(self.session, ThrottledAdapter(self.throttle, self.stats, sign))
        self.calls = 0

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        """Sends the request with retries and returns the decoded JSON body (``None`` for an empty body)."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "OPTIONS", "DELETE", "PUT")
        body = (
            b""
            if json_body is None
            else json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
        )
        url = f"{self.base_url}{path}"
        headers = {"Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        headers.update(extra_headers or {})
        last: str = "no attempt"
        for attempt in range(1, self.policy.max_attempts + 1):
            self.calls += 1
            try:
                resp = self.session.request(
                    method,
                    url,
                    data=body or None,
                    params=params,
                    headers=headers,
                    timeout=self.policy.timeouts,
                )
            except (requests.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
                last = f"connect failed: {type(exc).__name__}"
                self._wait(attempt, None, last, method, path)
                continue
            except requests.ConnectionError as exc:
                last = f"connection error: {type(exc).__name__}"
                if not idempotent and not _never_sent(exc):
                    raise AmbiguousRequestError(
                        f"{self.name} {method} {path}: {last}; the request may have taken effect"
                    ) from exc
                self._wait(attempt, None, last, method, path)
                continue
            except requests.Timeout as exc:
                last = f"timed out after {self.policy.timeout_s}s"
                if not idempotent:
                    raise AmbiguousRequestError(
                        f"{self.name} {method} {path}: {last}; the request may have taken effect"
                    ) from exc
                self._wait(attempt, None, last, method, path)
                continue

            status = resp.status_code
            if 200 <= status < 300:
                if not resp.content:
                    return None
                try:
                    return resp.json()
                except ValueError as exc:
                    last = "response body is not valid JSON"
                    if not idempotent:
                        raise AmbiguousRequestError(
                            f"{self.name} {method} {path}: {last}", status=status
                        ) from exc
                    self._wait(attempt, None, last, method, path)
                    continue
            code, message = error_text(resp)
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if status == 429:
                if retry_after is not None and retry_after > self.policy.max_retry_after_s:
                    raise TransientError(
                        f"{self.name} asks to wait {retry_after:.0f}s (429)", status=429, code=code
                    )
                last = "429 rate limited"
                self._wait(attempt, retry_after, last, method, path)
                continue
            if status >= 500:
                last = f"{status} {code or ''} {message}".strip()
                if not idempotent:
                    raise AmbiguousRequestError(
                        f"{self.name} {method} {path}: {last}", status=status, code=code
                    )
                self._wait(attempt, retry_after, last, method, path)
                continue
            error = PayloadTooLargeError if status == 413 else PermanentError
            raise error(f"{self.name} {method} {path}: {status} {code}: {message}", status=status, code=code)
        raise TransientError(
            f"{self.name} {method} {path}: gave up after {self.policy.max_attempts} attempts ({last})"
        )

    def _wait(self, attempt: int, retry_after: float | None, why: str, method: str, path: str) -> None:
        if attempt >= self.policy.max_attempts:
            return
        delay = self.policy.backoff(attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        log.info("%s %s %s: %s; retry %d in %.2fs", self.name, method, path, why, attempt, delay)
        self.sleep(delay)


def _signer(
    headers: Callable[[str, str, bytes], dict[str, str]], base_url: str
) -> Callable[[Any], dict[str, str]]:
    """The adapter's signing hook for ``headers(method, path, body)``, ``path`` relative to ``base_url``."""
    prefix = urlsplit(base_url).path

    def sign(prepared: Any) -> dict[str, str]:
        body = prepared.body or b""
        path = urlsplit(prepared.url).path.removeprefix(prefix)
        return headers(prepared.method, path, body if isinstance(body, bytes) else body.encode())

    return sign


def _never_sent(exc: BaseException) -> bool:
    """True when a connection error happened before the request could reach the server."""
    text = repr(exc)
    return any(
        k in text
        for k in ("NewConnectionError", "ConnectionRefused", "Failed to establish", "NameResolution")
    )


def split_on_413(items: Sequence[T], send: Callable[[Sequence[T], str], None], label: str = "") -> int:
    """Calls ``send(items, label)``; on ``413`` splits the items in halves (labels ``.0``/``.1``) and recurses.

    The split is deterministic, so a resumed batch splits the same way (and reuses the same labels, e.g. in
    idempotency keys). Returns the number of requests that succeeded; a single item that is still too large
    raises.
    """
    try:
        send(items, label)
        return 1
    except PayloadTooLargeError:
        if len(items) <= 1:
            raise
        half = len(items) // 2
        log.info("413 for %d items: splitting in halves", len(items))
        return split_on_413(items[:half], send, label + ".0") + split_on_413(items[half:], send, label + ".1")


# --- the extractors' client ---------------------------------------------------------------------------------------
def rest_client(
    base_url: str,
    *,
    stats: HttpStats,
    policy: HttpPolicy,
    throttle: Throttle,
    auth: Any = None,
    headers: dict[str, str] | None = None,
    sign: Callable[[Any], dict[str, str]] | None = None,
) -> RESTClient:
    """A dlt ``RESTClient`` whose session retries (dlt's ``Client``, mapped from ``policy``), throttles, signs and
    counts; a ``200`` whose body is not JSON is retried like a ``5xx`` (a cut-off page is usually transient)."""
    from dlt.sources.helpers.requests.retry import Client
    from dlt.sources.helpers.rest_client import RESTClient

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
        request_timeout=policy.timeouts,
        raise_for_status=False,
        request_max_attempts=policy.max_attempts,
        request_backoff_factor=policy.retry_base_s,
        request_max_retry_delay=policy.retry_max_s,
        retry_condition=bad_json,
        respect_retry_after_header=True,
    ).session
    _mount(session, ThrottledAdapter(throttle, stats, sign))
    return RESTClient(base_url=base_url, headers=headers, auth=auth, session=session)
