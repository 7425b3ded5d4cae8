"""Channel Talk Open API v5 client for audience sync.

``PUT /open/v5/users/@{memberId}`` upserts a member (``profile`` merged, ``tags`` replaced, ``unsubscribeTexting`` /
``unsubscribeEmail``); ``PATCH /open/v5/users/{userId}`` updates an existing user only. Headers ``x-access-key`` and
``x-access-secret``. Limits are not published: the client paces itself (``rate_limit_per_s`` in the connection
extra) and honours ``429``/``Retry-After`` and ``x-ratelimit-remaining/reset``. Both writes are idempotent (the same
body gives the same user), so they are retried after a lost answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from activation.destinations.base import RemoteUser
from activation.destinations.limits import EndpointLimits, limits_for
from include.core.connections import CHANNELTALK, ApiConnection, get_connection
from include.core.http import HttpPolicy, JsonClient


def _user(doc: Any) -> RemoteUser:
    user = (doc or {}).get("user") or {}
    return RemoteUser(
        user_id=user.get("id"),
        tags=list(user.get("tags") or []),
        unsubscribe_texting=bool(user.get("unsubscribeTexting")),
        unsubscribe_email=bool(user.get("unsubscribeEmail")),
    )


class ChannelTalkDestination:
    """Upserts members and updates their managed tags."""

    name = "channeltalk"

    def __init__(self, conn: ApiConnection, *, limits: EndpointLimits | None = None) -> None:
        if not conn.login or not conn.password:
            raise ValueError(
                f"connection '{conn.conn_id}' needs the access key as login and the secret as password"
            )
        self.conn = conn
        self.limits = limits or limits_for("channeltalk", conn.extra)
        key, secret = conn.login, conn.password
        self.http = JsonClient(
            conn.base_url,
            name="channeltalk",
            headers=lambda method, path, body: {"x-access-key": key, "x-access-secret": secret},
            policy=HttpPolicy.from_extra(conn.extra),
            rate_per_s=self.limits.requests_per_second,
        )

    @classmethod
    def from_connection(cls, conn: ApiConnection | None = None) -> ChannelTalkDestination:
        return cls(conn or get_connection(CHANNELTALK))

    def close(self) -> None:
        self.http.close()

    def upsert_member(self, member_key: str, body: dict[str, Any]) -> RemoteUser:
        path = f"/open/v5/users/@{quote(member_key, safe='')}"
        return _user(self.http.request("PUT", path, json_body=body, idempotent=True))

    def update_user(self, user_id: str, body: dict[str, Any]) -> RemoteUser:
        path = f"/open/v5/users/{quote(user_id, safe='')}"
        return _user(self.http.request("PATCH", path, json_body=body, idempotent=True))
