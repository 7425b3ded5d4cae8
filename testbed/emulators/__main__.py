"""Command line: run the API emulators as a background process for the demo.

    uv run python -m testbed.emulators serve --shop-dir data/shop --state-dir data/emulators \\
        --drops-dir data/drops/events --now 2025-03-02T06:00:00+09:00 \\
        --ports cafe24=18080,solapi=18081 --faults "rate=0.05;kinds=429,503" --endpoints-file data/emulators.json

Writes the endpoints, credentials and ``AIRFLOW_CONN_*`` values to ``--endpoints-file`` (mode 0600, removed on
exit), prints one ``READY {...}`` line with the URLs (never the credentials), and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from include.core.timezone import KST
from testbed.emulators.runner import DEFAULT_APIS, start_emulators


def _pairs(raw: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in (raw or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"'{item}' is not name=value")
        out[key.strip()] = value.strip()
    return out


def _options(values: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--option '{item}' is not key=value")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _write_private(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def serve(args: argparse.Namespace) -> int:
    """Starts the emulators and blocks until SIGTERM/SIGINT."""
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(KST).replace(microsecond=0)
    if now.tzinfo is None:
        raise SystemExit("--now needs a timezone offset, e.g. 2025-03-02T06:00:00+09:00")
    ports = {k: int(v) for k, v in _pairs(args.ports).items()}
    apis = [a.strip() for a in args.apis.split(",") if a.strip()]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    handle = start_emulators(
        args.shop_dir,
        args.state_dir,
        args.drops_dir,
        now,
        apis=apis,
        faults=args.faults,
        ports=ports,
        options=_options(args.option),
        host=args.host,
        public_host=args.public_host,
    )
    endpoints = Path(args.endpoints_file) if args.endpoints_file else None
    try:
        if endpoints is not None:
            _write_private(
                endpoints,
                {
                    "pid": os.getpid(),
                    "now": now.isoformat(),
                    "urls": handle.urls,
                    "credentials": handle.credentials,
                    "connections": handle.connection_env(),
                },
            )
        print("READY " + json.dumps({"pid": os.getpid(), "urls": handle.urls}), flush=True)
        stop.wait()
    finally:
        handle.stop()
        if endpoints is not None:
            endpoints.unlink(missing_ok=True)
        print("STOPPED", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.emulators", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the emulators until SIGTERM")
    p.add_argument("--shop-dir", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--drops-dir", required=True)
    p.add_argument(
        "--now", default=None, help="simulated clock start, ISO 8601 with offset (default: now, KST)"
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 inside a container)")
    p.add_argument("--public-host", default=None, help="host name clients use in the URLs (default: --host)")
    p.add_argument("--apis", default=",".join(DEFAULT_APIS))
    p.add_argument("--faults", default=None, help='fault spec, e.g. "rate=0.1;kinds=429,reset;seed=7"')
    p.add_argument("--ports", default=None, help="api=port,... (0 or absent: ephemeral)")
    p.add_argument("--endpoints-file", default=None)
    p.add_argument("--option", action="append", default=[], help="emulator option key=value (YAML value)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
