"""The HTTP layer every destination client shares: pacing, retries, timeouts and honest error classes.

- client-side pacing (token bucket) plus the server's own signals: ``429`` with ``Retry-After``, and
  ``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset`` (epoch seconds or seconds to wait);
- exponential backoff with full jitter, bounded attempts, connect/read timeouts;
- retries only where they are safe. A request that never reached the server (connect error, ``429``) is always
  retried. A request that may have taken effect (read timeout, connection reset, ``5xx``, a garbled ``200`` body)
  is retried only when the caller marks it idempotent; otherwise :class:`AmbiguousRequestError` tells the caller to
  look at the server's state before trying again (Solapi: list the group's messages);
- ``413`` raises :class:`PayloadTooLargeError` so the caller can split the batch;
- authentication headers are rebuilt for every attempt (a Solapi signature may not be reused).

Nothing here logs a header or a body: only method, path, status and attempt.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

log = logging.getLogger(__name__)
T = TypeVar("T")


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


@dataclass(frozen=True)
class RetryPolicy:
    """How one client retries; values can be tuned per connection (``extra``)."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_retry_after_s: float = 300.0

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> RetryPolicy:
        """Overrides from a connection's ``extra`` (``max_attempts``, ``retry_base_s``, ``timeout_s`` …)."""
        d = cls()
        return cls(
            max_attempts=int(extra.get("max_attempts", d.max_attempts)),
            base_delay_s=float(extra.get("retry_base_s", d.base_delay_s)),
            max_delay_s=float(extra.get("retry_max_s", d.max_delay_s)),
            connect_timeout_s=float(extra.get("connect_timeout_s", d.connect_timeout_s)),
            read_timeout_s=float(extra.get("timeout_s", d.read_timeout_s)),
            max_retry_after_s=float(extra.get("max_retry_after_s", d.max_retry_after_s)),
        )

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given (1-based) attempt."""
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


class RateLimiter:
    """Token bucket on the monotonic clock; ``pause_until`` holds requests after a server signal."""

    def __init__(self, rate_per_s: float | None, burst: float | None = None) -> None:
        self.rate = rate_per_s
        self.capacity = max(
            1.0, burst if burst is not None else 1.0
        )  # smooth pacing unless a burst is allowed
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def pause_for(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0 and self.rate:
                    self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                    self._last = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self.rate
                elif wait <= 0:
                    return
            sleep(wait)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
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


def _error_text(resp: requests.Response) -> tuple[str | None, str]:
    try:
        body = resp.json()
    except ValueError:
        return None, resp.text[:200]
    if isinstance(body, dict):
        if "errorCode" in body:  # Solapi
            return str(body.get("errorCode")), str(body.get("errorMessage", ""))[:300]
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("code")), str(err.get("message", ""))[:300]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):  # Channel Talk
            return str(body.get("type")), str(errors[0].get("message", ""))[:300]
    return None, str(body)[:200]


class HttpClient:
    """A small JSON-over-HTTP client with the retry rules of this module.

    Args:
        base_url: scheme://host[:port][/prefix].
        name: label for logs and errors (``solapi``, ``channeltalk``, ``webhook``).
        headers: called before every attempt with (method, path, body bytes) for auth headers.
        policy: retry and timeout settings.
        rate_per_s: client-side request pacing (None: only server signals).
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        headers: Callable[[str, str, bytes], dict[str, str]] | None = None,
        policy: RetryPolicy | None = None,
        rate_per_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.headers = headers
        self.policy = policy or RetryPolicy()
        self.limiter = RateLimiter(rate_per_s)
        self.sleep = sleep
        self.session = requests.Session()
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
        last: str = "no attempt"
        for attempt in range(1, self.policy.max_attempts + 1):
            self.limiter.acquire(self.sleep)
            headers = {"Accept": "application/json"}
            if body:
                headers["Content-Type"] = "application/json; charset=utf-8"
            if self.headers:
                headers.update(self.headers(method, path, body))
            if extra_headers:
                headers.update(extra_headers)
            self.calls += 1
            try:
                resp = self.session.request(
                    method,
                    url,
                    data=body or None,
                    params=params,
                    headers=headers,
                    timeout=(self.policy.connect_timeout_s, self.policy.read_timeout_s),
                )
            except (requests.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
                last = f"connect failed: {type(exc).__name__}"
                self._wait(attempt, None, last, method, path)
                continue
            except requests.ConnectionError as exc:
                sent = not _never_sent(exc)
                last = f"connection error: {type(exc).__name__}"
                if sent and not idempotent:
                    raise AmbiguousRequestError(
                        f"{self.name} {method} {path}: {last}; the request may have taken effect"
                    ) from exc
                self._wait(attempt, None, last, method, path)
                continue
            except requests.Timeout as exc:
                last = f"timed out after {self.policy.read_timeout_s}s"
                if not idempotent:
                    raise AmbiguousRequestError(
                        f"{self.name} {method} {path}: {last}; the request may have taken effect"
                    ) from exc
                self._wait(attempt, None, last, method, path)
                continue

            wait = _reset_wait(resp.headers)
            if wait:
                self.limiter.pause_for(min(wait, self.policy.max_retry_after_s))
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
            code, message = _error_text(resp)
            if status == 429:
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
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
                self._wait(attempt, parse_retry_after(resp.headers.get("Retry-After")), last, method, path)
                continue
            if status == 413:
                raise PayloadTooLargeError(
                    f"{self.name} {method} {path}: 413 {code}: {message}", status=413, code=code
                )
            raise PermanentError(
                f"{self.name} {method} {path}: {status} {code}: {message}", status=status, code=code
            )
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
