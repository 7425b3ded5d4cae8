"""Fault injection, request counting and the ``/_emulator`` admin routes every emulator shares.

Faults are described by a compact spec string, e.g. ``"rate=0.2;kinds=429,503,reset,timeout;seed=7"``; keys:

- ``rate``: probability (0–1) that an eligible request is faulted;
- ``kinds``: comma list of fault kinds (default ``429,500,502,503``):
  ``429``/``500``/``502``/``503`` answer that status with the API's own error body (the handler never runs);
  ``timeout`` stalls ``timeout_s`` seconds before answering 504 (longer than a client's timeout);
  ``reset`` closes the TCP connection with an RST and no response;
  ``malformed_json`` runs the handler, then answers 200 with the body cut in half;
  ``duplicate_page`` answers a paging endpoint with the body of the previous page it served;
  two extras model the hardest case for idempotency, a request that took effect but whose answer was lost:
  ``reset_after`` (the handler runs, then the connection is reset) and ``timeout_after`` (runs, then stalls);
- ``seed``: integer; the decision for the n-th eligible request of an API depends only on (seed, api, n);
- ``timeout_s``: stall length for ``timeout``/``timeout_after`` (default 5 s);
- ``only_paths``: comma list of path prefixes (or ``fnmatch`` globs) that may be faulted (default: all); an entry
  may start with an HTTP method, ``PUT /messages/v4/groups/*/messages``, to fault only that method;
- ``<api>.<key>=...``: a per-API override of any key above, e.g. ``solapi.rate=0.5;solapi.kinds=reset``.

Admin routes (never faulted, never counted): ``GET /_emulator/health``, ``GET /_emulator/stats``,
``POST /_emulator/stats/reset``, ``GET|PUT /_emulator/clock``, ``GET|PUT /_emulator/faults``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import json
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query

from testbed.emulators.context import EmulatorContext

STANDARD_KINDS = ("429", "500", "502", "503", "timeout", "reset", "malformed_json", "duplicate_page")
EXTRA_KINDS = ("reset_after", "timeout_after")
ALL_KINDS = STANDARD_KINDS + EXTRA_KINDS
DEFAULT_KINDS = ("429", "500", "502", "503")
_KEYS = ("rate", "kinds", "seed", "timeout_s", "only_paths")
ADMIN_PREFIX = "/_emulator"

ErrorBody = Callable[[int], dict[str, Any]]


@dataclass
class FaultConfig:
    """Which requests to fault and how; ``overrides`` holds per-API variants (see the module docstring)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    seed: int = 0
    timeout_s: float = 5.0
    only_paths: tuple[str, ...] = ()
    overrides: dict[str, FaultConfig] = field(default_factory=dict)
    _seq: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        unknown = [k for k in self.kinds if k not in ALL_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(ALL_KINDS)}")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    @classmethod
    def parse(cls, spec: str | None) -> FaultConfig:
        """Parses a spec string (``None``, ``""`` or ``"off"`` mean no faults); raises ``ValueError`` on bad input."""
        if spec is None or spec.strip().lower() in ("", "off", "none"):
            return cls()
        base: dict[str, str] = {}
        per_api: dict[str, dict[str, str]] = {}
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            if "=" not in part:
                raise ValueError(f"fault spec item '{part}' is not key=value")
            key, value = (s.strip() for s in part.split("=", 1))
            api, _, sub = key.rpartition(".")
            if api:
                if sub not in _KEYS:
                    raise ValueError(f"unknown fault key '{sub}' in '{part}'; known: {', '.join(_KEYS)}")
                per_api.setdefault(api, {})[sub] = value
            elif key in _KEYS:
                base[key] = value
            else:
                raise ValueError(f"unknown fault key '{key}'; known: {', '.join(_KEYS)}")
        root = cls(**_typed(base))
        for api, values in per_api.items():
            root.overrides[api] = replace(root, overrides={}, **_typed(values))
        return root

    def to_spec(self) -> str:
        """The spec string that parses back to this configuration."""
        parts = [_fmt(self, "")]
        parts += [_fmt(cfg, f"{api}.") for api, cfg in sorted(self.overrides.items())]
        return ";".join(parts)

    def for_api(self, api: str) -> FaultConfig:
        return self.overrides.get(api, self)

    def set_override(self, api: str, cfg: FaultConfig) -> None:
        """Replaces the API's override (its request sequence restarts at 0)."""
        with self._lock:
            self.overrides[api] = replace(cfg, overrides={})
            self._seq.pop(api, None)

    def decide(self, api: str, path: str, method: str = "GET") -> str | None:
        """The fault kind for the next eligible ``method`` request of ``api`` to ``path``, or ``None``."""
        cfg = self.for_api(api)
        if cfg.rate <= 0 or not cfg.kinds:
            return None
        if cfg.only_paths and not any(_path_matches(method, path, p) for p in cfg.only_paths):
            return None
        with self._lock:
            seq = self._seq.get(api, 0)
            self._seq[api] = seq + 1
        digest = hashlib.sha256(f"{cfg.seed}|{api}|{seq}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= cfg.rate:
            return None
        return cfg.kinds[int.from_bytes(digest[8:12], "big") % len(cfg.kinds)]


def _typed(values: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        if "rate" in values:
            out["rate"] = float(values["rate"])
        if "seed" in values:
            out["seed"] = int(values["seed"])
        if "timeout_s" in values:
            out["timeout_s"] = float(values["timeout_s"])
    except ValueError as exc:
        raise ValueError(f"bad number in fault spec: {exc}") from exc
    if "kinds" in values:
        out["kinds"] = tuple(k.strip().lower() for k in values["kinds"].split(",") if k.strip())
    if "only_paths" in values:
        out["only_paths"] = tuple(p.strip() for p in values["only_paths"].split(",") if p.strip())
    return out


def _fmt(cfg: FaultConfig, prefix: str) -> str:
    items = [
        f"rate={cfg.rate:g}",
        f"kinds={','.join(cfg.kinds)}",
        f"seed={cfg.seed}",
        f"timeout_s={cfg.timeout_s:g}",
    ]
    if cfg.only_paths:
        items.append(f"only_paths={','.join(cfg.only_paths)}")
    return ";".join(prefix + i for i in items)


def _path_matches(method: str, path: str, pattern: str) -> bool:
    wanted, _, rest = pattern.partition(" ")
    if rest:  # "METHOD /path": the method must match too
        if wanted.upper() != method.upper():
            return False
        pattern = rest.strip()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path.startswith(pattern)


def default_error_body(status: int) -> dict[str, Any]:
    """Generic error body used when an emulator does not give its API's own shape."""
    return {"error": {"code": str(status), "message": f"injected fault: HTTP {status}"}}


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


class _CommonMiddleware:
    """Pure ASGI middleware: fault injection and request/response counting around one emulator app."""

    def __init__(
        self, app: Any, ctx: EmulatorContext, api: str, paging: list[re.Pattern[str]], error_body: ErrorBody
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.api = api
        self.paging = paging
        self.error_body = error_body
        self.last_page: dict[str, tuple[int, list, bytes]] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        stats, api, path = self.ctx.stats, self.api, scope["path"]
        stats.incr(f"{api}.total.requests")
        faults: FaultConfig | None = self.ctx.faults
        kind = faults.decide(api, path, scope["method"]) if faults else None
        timeout_s = faults.for_api(api).timeout_s if faults else 5.0
        paging = any(p.match(path) for p in self.paging)
        if kind == "duplicate_page" and (not paging or path not in self.last_page):
            kind = None  # nothing to repeat: the request goes through untouched
        if kind is not None:
            stats.incr(f"{api}.fault.{kind}")

        if kind in ("429", "500", "502", "503"):
            await self._send_error(send, int(kind))
            return
        if kind == "timeout":
            await asyncio.sleep(timeout_s)
            await self._send_error(send, 504)
            return
        if kind == "reset":
            await _reset_connection(receive, send)
            return
        if kind == "duplicate_page":
            status, headers, body = self.last_page[path]
            await self._send_raw(send, status, headers, body)
            return

        buffered = kind in ("malformed_json", "reset_after", "timeout_after") or paging
        captured: dict[str, Any] = {"status": None, "headers": [], "body": b""}

        async def capture_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = list(message.get("headers", []))
                if not buffered:
                    await send(message)
            elif message["type"] == "http.response.body":
                if buffered:
                    captured["body"] += message.get("body", b"")
                else:
                    await send(message)

        await self.app(scope, receive, capture_send)
        status = captured["status"] or 500
        route = scope.get("route")
        endpoint = getattr(route, "name", None) or "unmatched"
        stats.incr(f"{api}.{endpoint}.{status}")
        if not buffered:
            stats.incr(f"{api}.total.{status}")
            return
        body, headers = captured["body"], captured["headers"]
        if kind == "reset_after":
            await _reset_connection(receive, send)
            return
        if kind == "timeout_after":
            await asyncio.sleep(timeout_s)
        if kind == "malformed_json":
            status = 200
            body = body[: max(1, len(body) // 2)] if body else b'{"messageList": {"M4V'
        elif paging and status == 200:
            self.last_page[path] = (status, headers, body)
        await self._send_raw(send, status, headers, body)

    async def _send_error(self, send: Callable, status: int) -> None:
        body = json.dumps(self.error_body(status), ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json")]
        if status == 429:
            headers.append((b"retry-after", b"1"))
        await self._send_raw(send, status, headers, body)

    async def _send_raw(self, send: Callable, status: int, headers: list, body: bytes) -> None:
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        self.ctx.stats.incr(f"{self.api}.total.{status}")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _reset_connection(receive: Callable, send: Callable) -> None:
    """Aborts the client's TCP connection with an RST (SO_LINGER 0) so it gets no HTTP response at all."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # not running under uvicorn's protocols: fail loudly instead of faking it
        raise RuntimeError("reset fault needs uvicorn's transport")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    for _ in range(50):  # let the server notice the connection is gone, then finish the cycle quietly
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.001)
    await send({"type": "http.response.start", "status": 500, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def install_common(
    app: FastAPI,
    ctx: EmulatorContext,
    api: str,
    *,
    paging_paths: tuple[str, ...] = (),
    error_body: ErrorBody | None = None,
) -> None:
    """Adds fault injection, counting and the ``/_emulator`` admin routes to an emulator app.

    Args:
        app: the emulator's FastAPI app.
        ctx: the shared emulator context (its ``faults`` and ``stats`` are used).
        api: the API name used in stats keys and per-API fault overrides.
        paging_paths: path templates (``/orders`` or ``/groups/{id}/messages``) of paging endpoints, for
            ``duplicate_page``.
        error_body: builds the API's own error body for an injected HTTP status.
    """
    patterns = [_template_regex(p) for p in paging_paths]
    app.add_middleware(
        _CommonMiddleware, ctx=ctx, api=api, paging=patterns, error_body=error_body or default_error_body
    )
    app.include_router(_admin_router(ctx, api))


def _admin_router(ctx: EmulatorContext, api: str) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["emulator admin"])

    @router.get("/health", name="admin_health")
    def health() -> dict:
        return {"api": api, "ok": True, "now": ctx.clock.now().isoformat()}

    @router.get("/stats", name="admin_stats")
    def get_stats(prefix: str | None = Query(None), all: bool = Query(False)) -> dict:  # noqa: A002
        chosen = "" if all else (prefix if prefix is not None else f"{api}.")
        return {"api": api, "stats": ctx.stats.snapshot(chosen)}

    @router.post("/stats/reset", name="admin_stats_reset")
    def reset_stats(all: bool = Query(False)) -> dict:  # noqa: A002
        ctx.stats.reset("" if all else f"{api}.")
        return {"api": api, "reset": True}

    @router.get("/clock", name="admin_clock")
    def get_clock() -> dict:
        return {"now": ctx.clock.now().isoformat()}

    @router.put("/clock", name="admin_set_clock")
    def set_clock(body: dict) -> dict:
        try:
            if "now" in body:
                ctx.clock.set(datetime.fromisoformat(str(body["now"])))
            elif "advance_seconds" in body:
                ctx.clock.set(ctx.clock.now() + timedelta(seconds=float(body["advance_seconds"])))
            else:
                raise ValueError("give 'now' (ISO 8601 with offset) or 'advance_seconds'")
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"now": ctx.clock.now().isoformat()}

    @router.get("/faults", name="admin_faults")
    def get_faults() -> dict:
        cfg: FaultConfig = ctx.faults or FaultConfig()
        return {"api": api, "spec": cfg.to_spec(), "effective": _fmt(cfg.for_api(api), "")}

    @router.put("/faults", name="admin_set_faults")
    def set_faults(body: dict) -> dict:
        """Body ``{"spec": "...", "scope": "api"|"all"}``: ``api`` (default) changes only this API's faults."""
        try:
            parsed = FaultConfig.parse(body.get("spec"))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        if body.get("scope", "api") == "all":
            ctx.faults = parsed
        else:
            if ctx.faults is None:
                ctx.faults = FaultConfig()
            ctx.faults.set_override(api, parsed)
        return get_faults()

    return router
