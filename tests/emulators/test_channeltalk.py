"""Channel Talk Open API v5 emulator: auth, upsert semantics, validation, events, rate limit, write counters."""

from __future__ import annotations

import time

import pytest
import requests


class Channel:
    def __init__(self, handle) -> None:
        self.url = handle.urls["channeltalk"]
        creds = handle.credentials["channeltalk"]
        self.headers = {"x-access-key": creds["key"], "x-access-secret": creds["secret"]}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, headers=self.headers, timeout=5, **kwargs)

    def stats(self) -> dict[str, int]:
        return requests.get(self.url + "/_emulator/stats", timeout=5).json()["stats"]


@pytest.fixture
def channel(start) -> Channel:
    return Channel(start(apis=("channeltalk",), channeltalk_rate_limit=1000))


def test_requests_need_both_access_headers(channel):
    assert requests.get(channel.url + "/open/v5/users/@m1", timeout=5).status_code == 401
    wrong = {**channel.headers, "x-access-secret": "nope"}
    r = requests.get(channel.url + "/open/v5/users/@m1", headers=wrong, timeout=5)
    assert r.status_code == 401 and r.json()["type"] == "Unauthorized"


def test_upsert_creates_then_merges_profile_and_replaces_tags(channel):
    body = {
        "profile": {"name": "김하나", "mobileNumber": "+821012345678", "segment": "G2"},
        "tags": ["G2", "repeat"],
        "unsubscribeTexting": False,
    }
    created = channel.call("PUT", "/open/v5/users/@m0000001", json=body)
    assert created.status_code == 200, created.text
    user = created.json()["user"]
    assert (
        user["memberId"] == "m0000001" and user["tags"] == ["G2", "repeat"] and user["mobileNumberQualified"]
    )
    updated = channel.call(
        "PUT", "/open/v5/users/@m0000001", json={"profile": {"segment": "G4"}, "tags": ["G4"]}
    )
    again = updated.json()["user"]
    assert again["id"] == user["id"] and again["version"] == 2
    assert again["profile"] == {"name": "김하나", "mobileNumber": "+821012345678", "segment": "G4"}
    assert again["tags"] == ["G4"]
    fetched = channel.call("GET", "/open/v5/users/@m0000001").json()["user"]
    assert fetched == again
    patched = channel.call("PATCH", f"/open/v5/users/{user['id']}", json={"unsubscribeTexting": True}).json()[
        "user"
    ]
    assert patched["unsubscribeTexting"] is True and patched["tags"] == ["G4"]
    once = channel.call(
        "PUT", "/open/v5/users/@m0000001", json={"profileOnce": {"segment": "G1", "firstSeen": "x"}}
    )
    assert (
        once.json()["user"]["profile"]["segment"] == "G4"
        and once.json()["user"]["profile"]["firstSeen"] == "x"
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["G1", "G1"]}, "tags"),
        ({"tags": ["ok", ""]}, "tags"),
        ({"profile": {"mobileNumber": "010-1234-5678"}}, "profile.mobileNumber"),
        ({"profile": {"nested": {"a": 1}}}, "profile.nested"),
        ({"unsubscribeTexting": "yes"}, "unsubscribeTexting"),
        ({"unsubscribeTexing": True}, "unsubscribeTexing"),
    ],
)
def test_invalid_bodies_get_422_naming_the_field(channel, body, field):
    r = channel.call("PUT", "/open/v5/users/@m0000002", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field
    assert channel.call("GET", "/open/v5/users/@m0000002").status_code == 404  # nothing stored


def test_twenty_unique_tags_are_fine(channel):
    r = channel.call("PUT", "/open/v5/users/@m0000003", json={"tags": [f"t{i}" for i in range(20)]})
    assert r.status_code == 200 and len(r.json()["user"]["tags"]) == 20


def test_events_and_delete(channel):
    user = channel.call("PUT", "/open/v5/users/@m0000004", json={"profile": {"name": "이두리"}}).json()[
        "user"
    ]
    ev = channel.call(
        "POST",
        f"/open/v5/users/{user['id']}/events",
        json={"name": "SegmentChanged", "property": {"from": "G2", "to": "G4"}},
    )
    assert ev.status_code == 200 and ev.json()["event"]["name"] == "SegmentChanged"
    bad = channel.call("POST", f"/open/v5/users/{user['id']}/events", json={"property": {}})
    assert bad.status_code == 422
    assert channel.call("POST", "/open/v5/users/nope/events", json={"name": "X"}).status_code == 404
    listed = requests.get(channel.url + "/_emulator/users", timeout=5).json()
    assert listed["count"] == 1 and listed["users"][0]["eventCount"] == 1
    assert channel.call("DELETE", f"/open/v5/users/{user['id']}").status_code == 200
    assert channel.call("GET", f"/open/v5/users/{user['id']}").status_code == 404
    assert requests.get(channel.url + "/_emulator/users", timeout=5).json()["count"] == 0


def test_writes_and_reads_are_counted_apart(channel):
    body = {"profile": {"name": "박세나"}, "tags": ["G3"]}
    channel.call("PUT", "/open/v5/users/@m0000005", json=body)
    requests.post(channel.url + "/_emulator/stats/reset", timeout=5)
    channel.call("GET", "/open/v5/users/@m0000005")
    assert channel.stats().get("channeltalk.writes", 0) == 0 and channel.stats()["channeltalk.reads"] == 1
    channel.call("PUT", "/open/v5/users/@m0000005", json=body)  # same content again
    stats = channel.stats()
    assert stats["channeltalk.writes"] == 1 and stats["channeltalk.users.unchanged"] == 1
    assert "channeltalk.users.changed" not in stats


def test_rate_limit_answers_429_with_headers(start):
    channel = Channel(start(apis=("channeltalk",), channeltalk_rate_limit=2, channeltalk_rate_burst=3))
    statuses, last = [], None
    for _ in range(5):
        last = channel.call("GET", "/open/v5/users/@m9")
        statuses.append(last.status_code)
        assert last.headers["x-ratelimit-limit"] == "3"
        assert int(last.headers["x-ratelimit-reset"]) >= int(time.time())
    assert statuses[:3] == [404, 404, 404] and statuses[3:] == [429, 429]
    assert last.headers["x-ratelimit-remaining"] == "0" and int(last.headers["retry-after"]) >= 1
    assert last.json()["type"] == "TooManyRequests"
    time.sleep(0.6)  # 2 tokens/s: one token back
    assert channel.call("GET", "/open/v5/users/@m9").status_code == 404
    assert channel.stats()["channeltalk.rate_limited"] == 2
