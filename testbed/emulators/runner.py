"""Serves several emulator apps in one process on loopback, sharing one :class:`EmulatorContext`.

Each API gets its own ``uvicorn.Server`` on ``127.0.0.1`` in a thread (port 0 = ephemeral). Credentials are generated
per start (``secrets.token_hex``) unless ``CRM_EMULATOR_<API>_KEY`` / ``_SECRET`` are set; they are handed to the
caller (``handle.credentials``, ``handle.connection_env()``) and never logged.

    with run_emulators(shop_dir, state_dir, drops_dir, now) as emu:
        os.environ.update(emu.connection_env())   # AIRFLOW_CONN_CRM_SOLAPI=... point clients at the emulators
        requests.get(emu.urls["solapi"] + "/_emulator/health")
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from include.core import connections
from testbed.emulators.context import EmulatorContext, SimClock
from testbed.emulators.faults import FaultConfig

log = logging.getLogger(__name__)

DEFAULT_APIS = ("cafe24", "shopify", "solapi", "channeltalk", "webhook")
CONN_IDS = {
    "cafe24": connections.CAFE24,
    "shopify": connections.SHOPIFY,
    "solapi": connections.SOLAPI,
    "channeltalk": connections.CHANNELTALK,
    "webhook": connections.WEBHOOK,
}


def make_credentials(api: str) -> dict[str, str]:
    """Key and secret for one API: from ``CRM_EMULATOR_<API>_KEY``/``_SECRET`` or freshly random."""
    prefix = f"CRM_EMULATOR_{api.upper()}_"
    key = os.environ.get(prefix + "KEY") or secrets.token_hex(8).upper()
    secret = os.environ.get(prefix + "SECRET") or secrets.token_hex(16)
    return {"key": key, "secret": secret}


class _Server:
    """One uvicorn server in a daemon thread, on a socket bound before start (so the port is known at once)."""

    def __init__(
        self, api: str, app: Any, port: int, host: str = "127.0.0.1", public_host: str | None = None
    ) -> None:
        import uvicorn

        self.api = api
        self.app = app
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP;
        # without it every keep-alive request pays a ~40 ms delayed-ACK stall.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        self.public_host = public_host or host
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_keep_alive=5,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name=f"emulator-{api}"
        )

    @property
    def url(self) -> str:
        return f"http://{self.public_host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"emulator '{self.api}' failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"emulator '{self.api}' did not start within {timeout}s")
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        for closer in getattr(self.app.state, "on_stop", []):
            closer()


@dataclass
class EmulatorHandle:
    """What a caller of :func:`run_emulators` gets: URLs, credentials, the shared context, and ``stop()``."""

    urls: dict[str, str]
    credentials: dict[str, dict[str, str]]
    ctx: EmulatorContext
    _servers: list[_Server] = field(default_factory=list, repr=False)
    _connections: dict[str, dict] = field(default_factory=dict, repr=False)

    def connection_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_CRM_<API>`` JSON strings (include/core/connections.py ids) pointing clients here."""
        return {
            f"AIRFLOW_CONN_{CONN_IDS.get(api, 'crm_' + api).upper()}": json.dumps(conn)
            for api, conn in self._connections.items()
        }

    def stop(self) -> None:
        """Stops every server (idempotent)."""
        while self._servers:
            self._servers.pop().stop()


def start_emulators(
    shop_dir: Path | str,
    state_dir: Path | str,
    drops_dir: Path | str,
    now: datetime,
    *,
    apis: tuple[str, ...] | list[str] = DEFAULT_APIS,
    faults: str | FaultConfig | None = None,
    ports: dict[str, int] | None = None,
    options: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    public_host: str | None = None,
) -> EmulatorHandle:
    """Starts the emulators and returns a handle; the caller must call ``handle.stop()``.

    Apis whose module does not exist yet are skipped with a warning. ``host`` is the bind address (loopback by
    default; ``0.0.0.0`` inside a container), ``public_host`` the name clients use in the URLs (default ``host``).
    """
    ctx = EmulatorContext(
        shop_dir=Path(shop_dir),
        state_dir=Path(state_dir),
        drops_dir=Path(drops_dir),
        clock=SimClock(now),
        faults=faults if isinstance(faults, FaultConfig) else FaultConfig.parse(faults),
        options=dict(options or {}),
    )
    ctx.state_dir.mkdir(parents=True, exist_ok=True)
    handle = EmulatorHandle(urls={}, credentials=ctx.credentials, ctx=ctx)
    try:
        for api in apis:
            if importlib.util.find_spec(f"testbed.emulators.{api}") is None:
                log.warning("emulator '%s' skipped: testbed/emulators/%s.py does not exist yet", api, api)
                continue
            module = importlib.import_module(f"testbed.emulators.{api}")
            ctx.credentials[api] = make_credentials(api)
            app = module.create_app(ctx)
            server = _Server(api, app, int((ports or {}).get(api, 0)), host, public_host)
            handle._servers.append(server)
            server.start()
            handle.urls[api] = server.url
            handle._connections[api] = _connection(module, ctx, api, server.url)
            log.info("emulator %s listening on %s", api, server.url)
    except BaseException:
        handle.stop()
        raise
    return handle


def _connection(module: Any, ctx: EmulatorContext, api: str, url: str) -> dict:
    creds = ctx.credentials[api]
    conn = {"conn_type": "http", "host": url, "login": creds["key"], "password": creds["secret"], "extra": {}}
    extra_fn = getattr(module, "connection_extra", None)
    if extra_fn is not None:
        conn["extra"] = extra_fn(ctx)
    return conn


@contextmanager
def run_emulators(
    shop_dir: Path | str,
    state_dir: Path | str,
    drops_dir: Path | str,
    now: datetime,
    *,
    apis: tuple[str, ...] | list[str] = DEFAULT_APIS,
    faults: str | FaultConfig | None = None,
    ports: dict[str, int] | None = None,
    options: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    public_host: str | None = None,
) -> Iterator[EmulatorHandle]:
    """Context manager around :func:`start_emulators` that stops everything on exit."""
    handle = start_emulators(
        shop_dir,
        state_dir,
        drops_dir,
        now,
        apis=apis,
        faults=faults,
        ports=ports,
        options=options,
        host=host,
        public_host=public_host,
    )
    try:
        yield handle
    finally:
        handle.stop()
