"""Fault injection: spec parsing, deterministic decisions, and real 429/5xx/reset/timeout/malformed responses."""

from __future__ import annotations

import pytest
import requests

from emulators.helpers import Solapi, sms
from testbed.emulators.faults import FaultConfig


def test_spec_parsing_and_round_trip():
    cfg = FaultConfig.parse("rate=0.2;kinds=429,503,reset,timeout;seed=7;solapi.rate=0.5;solapi.kinds=reset")
    assert (cfg.rate, cfg.kinds, cfg.seed, cfg.timeout_s) == (0.2, ("429", "503", "reset", "timeout"), 7, 5.0)
    assert cfg.for_api("solapi").rate == 0.5 and cfg.for_api("solapi").kinds == ("reset",)
    assert cfg.for_api("solapi").seed == 7  # inherits what it does not override
    assert cfg.for_api("cafe24") is cfg
    assert FaultConfig.parse(cfg.to_spec()).to_spec() == cfg.to_spec()
    assert FaultConfig.parse(None).rate == 0 and FaultConfig.parse("off").rate == 0


@pytest.mark.parametrize(
    "spec, message",
    [
        ("rate=2", "within 0..1"),
        ("rate=0.1;kinds=418", "unknown fault kind"),
        ("ratio=0.1", "unknown fault key"),
        ("rate", "not key=value"),
        ("rate=abc", "bad number"),
    ],
)
def test_bad_specs_are_rejected_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        FaultConfig.parse(spec)


def test_decisions_depend_only_on_seed_api_and_sequence():
    def run(spec: str, api: str = "solapi") -> list:
        cfg = FaultConfig.parse(spec)
        return [cfg.decide(api, "/messages/v4/list") for _ in range(400)]

    a = run("rate=0.25;kinds=429,500,reset;seed=11")
    assert a == run("rate=0.25;kinds=429,500,reset;seed=11")
    assert a != run("rate=0.25;kinds=429,500,reset;seed=12")
    assert a != run("rate=0.25;kinds=429,500,reset;seed=11", api="cafe24")
    share = sum(k is not None for k in a) / len(a)
    assert 0.18 < share < 0.32 and {k for k in a if k} == {"429", "500", "reset"}
    limited = FaultConfig.parse("rate=1;kinds=503;only_paths=/messages/v4/send*")
    assert limited.decide("solapi", "/messages/v4/list") is None
    assert limited.decide("solapi", "/messages/v4/send-many/detail") == "503"
    adds_only = FaultConfig.parse("rate=1;kinds=timeout_after;only_paths=PUT /messages/v4/groups/*/messages")
    assert adds_only.decide("solapi", "/messages/v4/groups/G1/messages", "GET") is None
    assert adds_only.decide("solapi", "/messages/v4/groups/G1/messages", "put") == "timeout_after"
    assert FaultConfig.parse(adds_only.to_spec()).only_paths == adds_only.only_paths  # survives a round trip


def _set(solapi: Solapi, spec: str) -> None:
    r = requests.put(solapi.url + "/_emulator/faults", json={"spec": spec}, timeout=5)
    assert r.status_code == 200, r.text


@pytest.mark.reliability
@pytest.mark.parametrize("status, code", [(429, "TooManyRequests"), (500, "InternalError"), (502, "BadGateway"),
                                          (503, "ServiceUnavailable")])  # fmt: skip
def test_injected_statuses_use_the_api_error_shape(solapi, status, code):
    _set(solapi, f"rate=1;kinds={status}")
    r = solapi.send_many([sms()])
    assert r.status_code == status and r.json()["errorCode"] == code
    if status == 429:
        assert r.headers["retry-after"] == "1"
    _set(solapi, "off")
    assert solapi.list()["messageList"] == {}  # the faulted request had no effect
    assert solapi.stats()[f"solapi.fault.{status}"] == 1


@pytest.mark.reliability
def test_reset_closes_the_connection_without_a_response(solapi):
    _set(solapi, "rate=1;kinds=reset")
    with pytest.raises(requests.ConnectionError):
        solapi.send_many([sms()])
    _set(solapi, "rate=1;kinds=reset_after")
    with pytest.raises(requests.ConnectionError):
        solapi.send_many([sms(to="01099990000")])
    _set(solapi, "off")
    # reset: nothing happened; reset_after: the send took effect although the client never heard back
    assert [m["to"] for m in solapi.list()["messageList"].values()] == ["01099990000"]


@pytest.mark.reliability
def test_timeout_stalls_longer_than_the_client_waits(solapi):
    _set(solapi, "rate=1;kinds=timeout;timeout_s=1.5")
    with pytest.raises(requests.ReadTimeout):
        solapi.request("GET", "/messages/v4/list", timeout=0.3)
    # admin routes are never faulted, even now
    assert requests.get(solapi.url + "/_emulator/stats", timeout=5).status_code == 200


@pytest.mark.reliability
def test_malformed_json_is_a_200_with_a_truncated_body(solapi):
    _set(solapi, "rate=1;kinds=malformed_json")
    r = solapi.send_many([sms()])
    assert r.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    _set(solapi, "off")
    assert len(solapi.list()["messageList"]) == 1  # the send itself went through


@pytest.mark.reliability
def test_duplicate_page_repeats_the_previous_page(solapi):
    solapi.send_many([sms(to=f"010555500{i:02d}") for i in range(6)])
    page1 = solapi.list(limit=3)
    _set(solapi, "rate=1;kinds=duplicate_page")
    page2 = solapi.list(limit=3, startKey=page1["nextKey"])
    assert page2 == page1  # a client that trusts nextKey blindly would loop or skip here
    _set(solapi, "off")
    real2 = solapi.list(limit=3, startKey=page1["nextKey"])
    assert set(real2["messageList"]).isdisjoint(page1["messageList"])


@pytest.mark.reliability
def test_runner_spec_applies_per_api_and_only_paths(start):
    handle = start(
        apis=("solapi", "webhook"), faults="rate=1;kinds=503;only_paths=/messages/v4/list;webhook.rate=0"
    )
    solapi = Solapi(handle)
    assert solapi.request("GET", "/messages/v4/list").status_code == 503
    assert solapi.request("POST", "/messages/v4/groups").status_code == 200
    assert requests.get(handle.urls["webhook"] + "/_emulator/hooks/x", timeout=5).status_code == 200
    stats = solapi.stats()
    assert stats["solapi.fault.503"] == 1 and stats["solapi.total.requests"] == 2
    assert stats["solapi.create_group.200"] == 1 and stats["solapi.total.503"] == 1
