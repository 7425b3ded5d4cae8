"""Credentials and endpoints of external APIs, from Airflow connections.

Connections are resolved the way Airflow resolves them: inside a task through Airflow's secrets backends, and
anywhere (CLI, tests, benchmarks) from ``AIRFLOW_CONN_<CONN_ID>`` environment variables in Airflow's JSON or URI
form. Nothing here logs a secret; :class:`ApiConnection` hides ``password`` in its repr.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

# Connection ids the project uses (documented in docs/operations.md).
CAFE24 = "crm_cafe24"
SHOPIFY = "crm_shopify"
SOLAPI = "crm_solapi"
CHANNELTALK = "crm_channeltalk"
WEBHOOK = "crm_webhook"


@dataclass(frozen=True)
class ApiConnection:
    """The parts of an Airflow connection an API client needs."""

    conn_id: str
    host: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def base_url(self) -> str:
        return self.host.rstrip("/")


def _from_env(conn_id: str) -> ApiConnection | None:
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("{"):
        data = json.loads(raw)
        host = data.get("host") or ""
        if data.get("schema") and "://" not in host:
            host = f"{data['schema']}://{host}"
        if data.get("port"):
            host = f"{host}:{data['port']}"
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra)
        return ApiConnection(conn_id, host, data.get("login"), data.get("password"), extra)
    parts = urlsplit(raw)
    scheme = parts.scheme.split("+")[-1] if parts.scheme else "http"
    scheme = "https" if scheme == "https" else "http"
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    host = f"{scheme}://{netloc}{parts.path}"
    extra = dict(parse_qsl(parts.query))
    if "__extra__" in extra:
        extra = json.loads(extra["__extra__"])
    return ApiConnection(
        conn_id,
        host,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        extra,
    )


def get_connection(conn_id: str) -> ApiConnection:
    """Resolves a connection from the environment, else from Airflow; raises ``LookupError`` naming the id."""
    conn = _from_env(conn_id)
    if conn is not None:
        return conn
    try:
        from airflow.sdk import BaseHook

        af = BaseHook.get_connection(conn_id)
    except Exception as exc:  # not configured anywhere
        raise LookupError(
            f"connection '{conn_id}' is not configured: set AIRFLOW_CONN_{conn_id.upper()} or add it in Airflow"
        ) from exc
    host = af.host or ""
    if af.schema and "://" not in host:
        host = f"{af.schema}://{host}"
    if af.port:
        host = f"{host}:{af.port}"
    return ApiConnection(conn_id, host, af.login, af.password, af.extra_dejson or {})
