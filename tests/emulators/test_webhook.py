"""Generic webhook sink: HMAC signature, idempotency keys, read-back."""

from __future__ import annotations

import json

import pytest
import requests

from testbed.emulators.webhook import sign


@pytest.fixture
def hook(start):
    handle = start(apis=("webhook",))
    return handle.urls["webhook"], handle.credentials["webhook"]["secret"]


def _post(url: str, body: bytes, signature: str | None, key: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature"] = signature
    if key:
        headers["Idempotency-Key"] = key
    return requests.post(url + "/hooks/audience", data=body, headers=headers, timeout=5)


def test_signature_is_checked(hook):
    url, secret = hook
    body = json.dumps({"segment": "G2", "members": ["m0000001"]}).encode()
    assert _post(url, body, None).status_code == 401
    assert _post(url, body, sign("other-secret", body)).status_code == 401
    assert _post(url, body + b" ", sign(secret, body)).status_code == 401  # body changed after signing
    assert _post(url, body, sign(secret, body)).status_code == 200
    assert _post(url, b"not json", sign(secret, b"not json")).status_code == 400


def test_idempotency_key_returns_the_first_answer_and_stores_once(hook):
    url, secret = hook
    body = json.dumps({"n": 1}).encode()
    first = _post(url, body, sign(secret, body), key="run-2025-03-03-G2")
    second = _post(url, body, sign(secret, body), key="run-2025-03-03-G2")
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    other = json.dumps({"n": 2}).encode()
    assert _post(url, other, sign(secret, other), key="run-2025-03-03-G2").status_code == 422
    assert _post(url, other, sign(secret, other), key="run-2025-03-03-G3").status_code == 200
    stored = requests.get(url + "/_emulator/hooks/audience", timeout=5).json()
    assert stored["count"] == 2 and [i["payload"]["n"] for i in stored["items"]] == [1, 2]
    assert requests.get(url + "/_emulator/hooks/other", timeout=5).json()["count"] == 0
