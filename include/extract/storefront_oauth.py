"""Cafe24 OAuth 2.0 for the extractor: a dlt auth class that refreshes, rotates and keeps its refresh token.

Cafe24 access tokens live ~2 hours and every refresh answers a *new* refresh token (the used one stops working), so
the rotated token must survive the process: :class:`Cafe24OAuth2` writes it at once to a small private file
(mode 0600, under the dlt working folder) and reads it back next run, falling back to the connection's token
(e.g. after an operator re-authorised the app). A request answered ``401`` is refreshed and re-sent once; the
token's lifetime comes from ``expires_at - issued_at`` of the token answer (the server's clock, whatever it is),
timed on this machine's clock from when the answer arrived. Tokens are never logged.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from dlt.common.configuration.specs.base_configuration import NotResolved, configspec
from dlt.common.pendulum import pendulum
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials

from include.core.http import error_text
from include.core.timezone import TIMEZONE
from include.extract.rest import ApiError

log = logging.getLogger(__name__)


def _parse_token_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=pendulum.timezone(TIMEZONE))


@configspec
class Cafe24OAuth2(OAuth2ClientCredentials):
    """Refresh-token grant against ``/api/v2/oauth/token`` with Basic client authentication."""

    refresh_token: Annotated[TSecretStrValue | None, NotResolved()] = None
    token_file: Annotated[str | None, NotResolved()] = None
    stats: Annotated[Any, NotResolved()] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._lock = threading.RLock()
        self._current_refresh: str | None = None
        self._load()

    def __repr__(self) -> str:
        return "Cafe24OAuth2(tokens=***)"

    # --- persistence ------------------------------------------------------------------------------------------
    def _load(self) -> None:
        path = Path(self.token_file) if self.token_file else None
        if path is None or not path.exists():
            return
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("Cafe24 token file is unreadable; using the connection's refresh token")
            return
        self._current_refresh = doc.get("refresh_token")
        if doc.get("access_token") and float(doc.get("access_valid_until", 0)) > time.time():
            self.access_token = doc["access_token"]
            self.token_expiry = pendulum.from_timestamp(float(doc["access_valid_until"]))

    def _save(self, doc: dict[str, Any], valid_until: float) -> None:
        if not self.token_file:
            return
        path = Path(self.token_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        data = {
            "refresh_token": doc["refresh_token"],
            "refresh_token_expires_at": doc.get("refresh_token_expires_at"),
            "access_token": doc["access_token"],
            "access_valid_until": valid_until,
            "mall_id": doc.get("mall_id"),
        }
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    # --- token exchange ---------------------------------------------------------------------------------------
    def _candidates(self) -> list[str]:
        out = [t for t in (self._current_refresh, self.refresh_token) if t]
        return list(dict.fromkeys(out))

    def build_access_token_request(self, refresh_token: str | None = None) -> dict[str, Any]:  # type: ignore[override]
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return {
            "headers": {
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "data": {"grant_type": "refresh_token", "refresh_token": refresh_token or ""},
        }

    def parse_expiration_in_seconds(self, response_json: Any) -> int:
        try:
            lifetime = (
                _parse_token_time(response_json["expires_at"]) - _parse_token_time(response_json["issued_at"])
            ).total_seconds()
        except (KeyError, TypeError, ValueError):
            lifetime = float(self.default_token_expiration)
        return int(max(1.0, lifetime - min(300.0, lifetime / 10)))

    def obtain_token(self) -> None:
        """Exchanges the newest refresh token for a token pair; persists the rotated refresh token at once."""
        with self._lock:
            refused = []
            for candidate in self._candidates():
                response = self.session.post(
                    self.access_token_url, **self.build_access_token_request(candidate)
                )
                if response.status_code >= 400:
                    code, message = error_text(response)
                    if response.status_code in (400, 401) and code == "invalid_grant":
                        refused.append("stored" if candidate == self._current_refresh else "connection")
                        continue
                    raise ApiError(
                        f"cafe24 token refresh failed: HTTP {response.status_code} {message}",
                        status=response.status_code,
                        code=code,
                    )
                doc = response.json()
                self.access_token = doc["access_token"]
                self._current_refresh = doc["refresh_token"]
                seconds = self.parse_expiration_in_seconds(doc)
                self.token_expiry = pendulum.now().add(seconds=seconds)
                self._save(doc, time.time() + seconds)
                if self.stats is not None:
                    self.stats.token_refreshes += 1
                log.info("cafe24 access token refreshed (valid ~%ss)", seconds)
                return
            raise ApiError(
                f"cafe24 refused every refresh token ({', '.join(refused) or 'none configured'}): re-authorise the "
                "app and put the new refresh token in the connection's extra",
                status=400,
            )

    def __call__(self, request: Any) -> Any:
        with self._lock:
            if self.access_token is None or self.is_token_expired():
                self.obtain_token()
            request.headers["Authorization"] = f"Bearer {self.access_token}"
        request.register_hook("response", self._retry_unauthorized)
        return request

    def _retry_unauthorized(self, response: Any, **kwargs: Any) -> Any:
        """On ``401``: refresh (unless someone already did since this request was signed) and re-send once."""
        if response.status_code != 401 or getattr(response.request, "_cafe24_retried", False):
            return response
        with self._lock:
            if response.request.headers.get("Authorization") == f"Bearer {self.access_token}":
                self.obtain_token()
            bearer = f"Bearer {self.access_token}"
        _ = response.content
        response.close()
        again = response.request.copy()
        again._cafe24_retried = True
        again.headers["Authorization"] = bearer
        new = response.connection.send(again, **kwargs)
        new.history.append(response)
        new.request = again
        return new
