"""Test helpers for the emulator tests: a Solapi request signer and thin HTTP wrappers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import requests

from testbed.emulators.runner import EmulatorHandle

KST = timezone(timedelta(hours=9))
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=KST)  # a Tuesday, 10:00 KST: inside the FriendTalk window
SENDER = "0212345678"

TEMPLATES = """\
templates:
  - id: TPL_ORDER_01
    pf_id: PF_SHOP
    name: 주문 접수
    content: "#{이름}님, 주문이 접수되었습니다. 주문번호: #{주문번호}"
  - id: TPL_REVIEW_01
    pf_id: PF_SHOP
    name: 리뷰 요청
    content: "#{이름}님, 구매하신 상품은 어떠셨나요? 리뷰를 남겨 주세요."
"""


class SolapiSigner:
    """Builds Solapi ``Authorization`` headers (our own test helper, written from the documented scheme)."""

    def __init__(self, key: str, secret: str, clock: Callable[[], datetime]) -> None:
        self.key, self.secret, self.clock = key, secret, clock

    def header(
        self, date: datetime | str | None = None, salt: str | None = None, key_case: str = "lower"
    ) -> str:
        stamp = date if isinstance(date, str) else (date or self.clock()).isoformat()
        salt = salt or secrets.token_hex(16)
        sig = hmac.new(self.secret.encode(), (stamp + salt).encode(), hashlib.sha256).hexdigest()
        if key_case == "upper":  # the official SDK capitalises ApiKey= and Date=
            return f"HMAC-SHA256 ApiKey={self.key}, Date={stamp}, salt={salt}, signature={sig}"
        return f"HMAC-SHA256 apiKey={self.key}, date={stamp}, salt={salt}, signature={sig}"

    def headers(self, **kwargs) -> dict[str, str]:
        return {"Authorization": self.header(**kwargs)}


class Solapi:
    """Minimal signed HTTP access to the Solapi emulator for tests."""

    def __init__(self, handle: EmulatorHandle) -> None:
        self.handle = handle
        self.url = handle.urls["solapi"]
        creds = handle.credentials["solapi"]
        self.signer = SolapiSigner(creds["key"], creds["secret"], handle.ctx.clock.now)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.signer.headers(), **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def send_many(self, messages: list[dict], **extra) -> requests.Response:
        return self.request("POST", "/messages/v4/send-many/detail", json={"messages": messages, **extra})

    def list(self, **params) -> dict:
        r = self.request("GET", "/messages/v4/list", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def advance(self, seconds: float) -> None:
        r = requests.put(self.url + "/_emulator/clock", json={"advance_seconds": seconds}, timeout=5)
        assert r.status_code == 200, r.text

    def stats(self) -> dict[str, int]:
        return requests.get(self.url + "/_emulator/stats", timeout=5).json()["stats"]


def sms(to: str = "01012345678", text: str = "안녕하세요", **extra) -> dict:
    return {"to": to, "from": SENDER, "text": text, **extra}
