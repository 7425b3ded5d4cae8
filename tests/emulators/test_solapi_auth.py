"""Solapi HMAC-SHA256 authentication against the simulated clock: keys, skew, signature, replay."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from emulators.helpers import NOW, SolapiSigner


def _get(solapi, headers: dict) -> requests.Response:
    return requests.get(solapi.url + "/messages/v4/list", headers=headers, timeout=5)


@pytest.mark.parametrize("key_case", ["lower", "upper"])
def test_valid_signature_is_accepted_whatever_the_key_case(solapi, key_case):
    r = _get(solapi, solapi.signer.headers(key_case=key_case))
    assert r.status_code == 200, r.text
    assert r.json()["messageList"] == {}


def test_wrong_key_and_wrong_secret_are_told_apart(solapi):
    creds = solapi.handle.credentials["solapi"]
    wrong_key = SolapiSigner("NCSWRONGKEY00000", creds["secret"], solapi.handle.ctx.clock.now)
    r = _get(solapi, wrong_key.headers())
    assert (r.status_code, r.json()["errorCode"]) == (403, "InvalidAPIKey")
    wrong_secret = SolapiSigner(creds["key"], "not-the-secret", solapi.handle.ctx.clock.now)
    r = _get(solapi, wrong_secret.headers())
    assert (r.status_code, r.json()["errorCode"]) == (403, "SignatureDoesNotMatch")
    assert set(r.json()) == {"errorCode", "errorMessage"}


def test_missing_or_garbled_header_is_rejected(solapi):
    assert _get(solapi, {}).status_code == 403
    r = _get(solapi, {"Authorization": "Bearer abc"})
    assert (r.status_code, r.json()["errorCode"]) == (403, "InvalidAPIKey")


def test_clock_skew_is_measured_against_the_simulated_clock(solapi):
    # 14 minutes off the simulated clock is fine, 16 is not; the machine's wall clock (2026) plays no part.
    assert _get(solapi, solapi.signer.headers(date=NOW - timedelta(minutes=14))).status_code == 200
    assert _get(solapi, solapi.signer.headers(date=NOW + timedelta(minutes=14))).status_code == 200
    r = _get(solapi, solapi.signer.headers(date=NOW + timedelta(minutes=16)))
    assert (r.status_code, r.json()["errorCode"]) == (403, "RequestTimeTooSkewed")
    # after moving the simulated clock 16 minutes ahead, the same date becomes valid
    solapi.advance(16 * 60)
    assert _get(solapi, solapi.signer.headers(date=NOW + timedelta(minutes=16))).status_code == 200


def test_signature_reuse_within_15_minutes_is_refused(solapi):
    headers = solapi.signer.headers(salt="fixed-salt-0123456789")
    assert _get(solapi, headers).status_code == 200
    r = _get(solapi, headers)
    assert (r.status_code, r.json()["errorCode"]) == (403, "DuplicatedSignature")
    # a fresh salt gives a fresh signature
    assert _get(solapi, solapi.signer.headers()).status_code == 200


def test_wall_clock_mode_for_clients_that_sign_with_real_time(start):
    from datetime import datetime

    from emulators.helpers import Solapi

    solapi = Solapi(start(apis=("solapi",), solapi_auth_clock="either"))
    wall = datetime.now().astimezone()
    assert _get(solapi, solapi.signer.headers(date=wall)).status_code == 200
    assert _get(solapi, solapi.signer.headers(date=NOW)).status_code == 200
    r = _get(solapi, solapi.signer.headers(date=wall + timedelta(hours=1)))
    assert r.json()["errorCode"] == "RequestTimeTooSkewed"
