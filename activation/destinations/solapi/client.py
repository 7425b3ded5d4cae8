"""Solapi v4 REST calls (groups API), written against the vendor's published interface.

``POST /messages/v4/groups`` → group; ``PUT /messages/v4/groups/{id}/messages`` adds ≤ 10,000 messages / 15 MB;
``GET /messages/v4/groups/{id}/messages`` pages through a group (``startKey``/``nextKey``, ``messageList`` keyed by
message id); ``POST …/send``; ``POST …/schedule {scheduledDate}``; ``GET /messages/v4/groups/{id}`` for the status.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from include.core.connections import SOLAPI, ApiConnection, get_connection
from include.core.http import HttpPolicy, JsonClient
from include.core.solapi_auth import HmacSigner

PAGE_LIMIT = 500


def scheduled_date(at: datetime) -> str:
    """``scheduledDate`` as ISO 8601 UTC with milliseconds."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class SolapiClient:
    """Thin typed wrapper over the HTTP layer for the endpoints the sender uses."""

    def __init__(self, conn: ApiConnection, *, policy: HttpPolicy | None = None) -> None:
        if not conn.login or not conn.password:
            raise ValueError(
                f"connection '{conn.conn_id}' needs the API key as login and the secret as password"
            )
        self.conn = conn
        self.http = JsonClient(
            conn.base_url,
            name="solapi",
            headers=HmacSigner(conn.login, conn.password),
            policy=policy or HttpPolicy.from_extra(conn.extra),
            rate_per_s=float(conn.extra["rate_limit_per_s"]) if conn.extra.get("rate_limit_per_s") else None,
        )

    @classmethod
    def from_connection(cls, conn_id: str = SOLAPI) -> SolapiClient:
        return cls(get_connection(conn_id))

    def close(self) -> None:
        self.http.close()

    def create_group(self, custom_fields: dict[str, str]) -> str:
        """A new PENDING group; a lost answer only leaves an empty group behind, so this is retried."""
        body = {"allowDuplicates": False, "customFields": custom_fields}
        doc = self.http.request("POST", "/messages/v4/groups", json_body=body, idempotent=True)
        group_id = (doc or {}).get("groupId") or (doc or {}).get("_id")
        if not group_id:
            raise ValueError("solapi create group: answer has no groupId")
        return str(group_id)

    def get_group(self, group_id: str) -> dict[str, Any]:
        return self.http.request("GET", f"/messages/v4/groups/{group_id}") or {}

    def add_messages(self, group_id: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Adds messages; the answer's ``resultList`` is in request order. Not idempotent (never blindly retried)."""
        doc = self.http.request(
            "PUT",
            f"/messages/v4/groups/{group_id}/messages",
            json_body={"messages": messages},
            idempotent=False,
        )
        results = (doc or {}).get("resultList")
        if not isinstance(results, list) or len(results) != len(messages):
            raise ValueError("solapi add messages: resultList does not match the request")
        return results

    def group_messages(self, group_id: str) -> Iterator[dict[str, Any]]:
        """Every message of a group (each once, even if a page is served twice)."""
        seen: set[str] = set()
        start: str | None = None
        for _ in range(100_000):
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if start:
                params["startKey"] = start
            doc = self.http.request("GET", f"/messages/v4/groups/{group_id}/messages", params=params) or {}
            listing = doc.get("messageList") or {}
            items = listing.values() if isinstance(listing, dict) else listing
            for item in items:
                mid = str(item.get("messageId") or item.get("_id"))
                if mid not in seen:
                    seen.add(mid)
                    yield item
            nxt = doc.get("nextKey")
            if not nxt:
                return
            start = str(nxt)
        raise RuntimeError(f"solapi group {group_id}: paging did not end")

    def send_group(self, group_id: str) -> dict[str, Any]:
        return self.http.request("POST", f"/messages/v4/groups/{group_id}/send", idempotent=False) or {}

    def schedule_group(self, group_id: str, at: datetime) -> dict[str, Any]:
        body = {"scheduledDate": scheduled_date(at)}
        return (
            self.http.request(
                "POST", f"/messages/v4/groups/{group_id}/schedule", json_body=body, idempotent=False
            )
            or {}
        )
