"""Solapi v4 HMAC-SHA256 request signing.

``Authorization: HMAC-SHA256 apiKey=<key>, date=<ISO 8601>, salt=<random>, signature=<hex>`` where the signature is
HMAC-SHA256 over ``date + salt`` with the API secret. A signature may not be reused within 15 minutes and the date
must be within 15 minutes of the server's clock, so a fresh date and salt are made for every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime


def utc_now() -> datetime:
    """The wall clock, for signing only (the server checks it against its own clock)."""
    return datetime.now(UTC)


def authorization(api_key: str, api_secret: str, *, now: datetime, salt: str | None = None) -> str:
    """The ``Authorization`` header value for one request."""
    date = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    salt = salt or secrets.token_hex(16)
    signature = hmac.new(api_secret.encode(), (date + salt).encode(), hashlib.sha256).hexdigest()
    return f"HMAC-SHA256 apiKey={api_key}, date={date}, salt={salt}, signature={signature}"


class HmacSigner:
    """Builds a fresh ``Authorization`` header per request; the secret never leaves this object."""

    def __init__(self, api_key: str, api_secret: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._key = api_key
        self._secret = api_secret
        self._clock = clock

    def __repr__(self) -> str:
        return "HmacSigner(apiKey=***)"

    def __call__(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return {"Authorization": authorization(self._key, self._secret, now=self._clock())}
