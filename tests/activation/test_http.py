"""The shared HTTP layer (the destinations' client) against a real local HTTP server: which failures are retried, waited on, or surfaced."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include.core.http import (
    AmbiguousRequestError,
    HttpPolicy,
    JsonClient,
    PayloadTooLargeError,
    PermanentError,
    Throttle,
    TransientError,
    parse_retry_after,
)
from include.core.solapi_auth import authorization


class Script:
    """Responses the server gives, in order: (status, headers, body dict)."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, dict, dict | None]] = []
        self.requests: list[dict] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            script.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )
            status, headers, payload = (
                script.responses.pop(0) if script.responses else (200, {}, {"ok": True})
            )
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = _handle

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def client(url: str, sleeps: list[float], **kw) -> JsonClient:
    policy = HttpPolicy(max_attempts=4, retry_base_s=0.01, retry_max_s=0.02, timeout_s=2, connect_timeout_s=1)
    return JsonClient(url, name="test", policy=policy, sleep=sleeps.append, **kw)


def test_429_waits_for_retry_after_then_succeeds(server) -> None:
    url, script = server
    script.responses = [(429, {"Retry-After": "2"}, {"errorCode": "TooMany"}), (200, {}, {"done": 1})]
    sleeps: list[float] = []
    assert client(url, sleeps).request("POST", "/x", json_body={"a": 1}, idempotent=False) == {"done": 1}
    assert sleeps and max(sleeps) >= 2.0  # a 429 is never processed: even a non-idempotent call is repeated


def test_5xx_is_retried_only_when_safe(server) -> None:
    url, script = server
    script.responses = [(503, {}, None), (200, {}, {"v": 2})]
    assert client(url, []).request("GET", "/x") == {"v": 2}
    script.responses = [(503, {}, {"errorCode": "ServiceUnavailable", "errorMessage": "down"})]
    with pytest.raises(AmbiguousRequestError, match="503 ServiceUnavailable"):
        client(url, []).request("PUT", "/x", json_body={"m": 1}, idempotent=False)


def test_permanent_errors_and_413(server) -> None:
    url, script = server
    script.responses = [(400, {}, {"errorCode": "ValidationError", "errorMessage": "bad to"})]
    with pytest.raises(PermanentError) as info:
        client(url, []).request("POST", "/x", json_body={})
    assert info.value.status == 400 and info.value.code == "ValidationError" and "bad to" in str(info.value)
    script.responses = [(413, {}, {"errorCode": "RecipientsTooMany", "errorMessage": "too many"})]
    with pytest.raises(PayloadTooLargeError):
        client(url, []).request("PUT", "/x", json_body={}, idempotent=False)
    script.responses = [
        (422, {}, {"type": "UnprocessableEntity", "errors": [{"message": "tags must be unique"}]})
    ]
    with pytest.raises(PermanentError, match="tags must be unique"):
        client(url, []).request("PUT", "/x", json_body={})


def test_retries_run_out_into_a_transient_error(server) -> None:
    url, script = server
    script.responses = [(502, {}, None)] * 4
    sleeps: list[float] = []
    with pytest.raises(TransientError, match="gave up after 4 attempts"):
        client(url, sleeps).request("GET", "/x")
    assert len(script.requests) == 4 and len(sleeps) == 3


def test_headers_are_rebuilt_per_attempt_and_rate_limit_headers_pause(server) -> None:
    url, script = server
    calls: list[int] = []

    def headers(method: str, path: str, body: bytes) -> dict[str, str]:
        calls.append(1)
        return {"Authorization": f"sig-{len(calls)}"}

    script.responses = [
        (500, {}, None),
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0.2"}, {"ok": 1}),
    ]
    c = JsonClient(
        url,
        name="t",
        headers=headers,
        policy=HttpPolicy(max_attempts=3, retry_base_s=0.001),
        sleep=lambda s: None,
    )
    c.request("GET", "/x")
    assert [r["headers"]["Authorization"] for r in script.requests] == ["sig-1", "sig-2"]
    assert c.throttle._blocked_until > 0


def test_connection_refused_is_retried_even_for_non_idempotent_calls() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here
    sleeps: list[float] = []
    with pytest.raises(TransientError, match="gave up"):
        client(f"http://127.0.0.1:{port}", sleeps).request("POST", "/x", json_body={}, idempotent=False)
    assert len(sleeps) == 3


def test_retry_after_parsing_and_pacing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    waits: list[float] = []
    limiter = Throttle(drain_per_s=10.0, sleep=waits.append)
    for _ in range(3):
        limiter.acquire()
    assert waits and all(0 < w <= 0.11 for w in waits)


def test_pacing_limit_is_the_bucket_less_a_small_reserve_and_the_extra_overrides_it() -> None:
    def limit(extra: dict | None, capacity: int = 40) -> float:
        return Throttle.for_policy(HttpPolicy.from_extra(extra), 2.0, capacity=capacity).limit

    assert limit(None) == 39  # one call of 40 held back, not a quarter of the bucket
    assert limit({"pacing_high_water": "0.5"}) == 19  # room left for other apps on the same bucket
    assert limit({"pacing_reserve_calls": "4"}) == 36
    assert limit({"pacing_high_water": 0.5, "pacing_reserve_calls": 30}) == 1  # never below one call
    assert limit(None, capacity=1) == 1  # a plain token bucket (rate_limit_per_s) is unchanged


def test_pacing_fills_the_mirrored_bucket_up_to_its_limit_then_sends_as_a_slot_drains() -> None:
    import requests

    waits: list[float] = []
    limiter = Throttle(capacity=40, drain_per_s=2.0, reserve=1, header="X-Api-Call-Limit", sleep=waits.append)
    for _ in range(39):
        limiter.acquire()
    assert waits == []  # 39 calls go at once
    limiter.acquire()
    assert len(waits) == 1 and 0.45 < waits[0] <= 0.5  # the 40th waits for one slot to drain
    answer = requests.Response()
    answer.status_code, answer.headers["X-Api-Call-Limit"] = 200, "12/40"
    limiter.observe(answer)  # the server's count wins: another app's calls, or calls that never reached it
    for _ in range(39 - 12):  # up to the limit again
        limiter.acquire()
    assert len(waits) == 1
    limiter.acquire()
    assert len(waits) == 2


def test_solapi_signature_follows_the_documented_scheme() -> None:
    import hashlib
    import hmac
    from datetime import UTC, datetime

    header = authorization(
        "KEY", "SECRET", now=datetime(2026, 11, 23, 0, 0, 1, 500000, tzinfo=UTC), salt="abc"
    )
    date = "2026-11-23T00:00:01.500Z"
    expected = hmac.new(b"SECRET", (date + "abc").encode(), hashlib.sha256).hexdigest()
    assert header == f"HMAC-SHA256 apiKey=KEY, date={date}, salt=abc, signature={expected}"
