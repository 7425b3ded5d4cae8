"""``crm``: validate campaigns, preview, send, check status, sync audiences, list consents due for re-confirmation.

    crm validate [--dir DIR] [--check-warehouse]
    crm due --date 2026-11-22
    crm preview --campaign g2_time_limited_coupon --date 2026-11-22 [--json]
    crm send --campaign g2_time_limited_coupon --date 2026-11-22 [--dry-run]
    crm send --all --date 2026-11-22
    crm status --date 2026-11-22 [--refresh]
    crm sync --date 2026-11-22
    crm consent-due --date 2026-11-22 [--within-days 30]

``--date`` is the data date D; the reference time defaults to D+1 00:00 in the shop's timezone (``--reference-time``
overrides it with an ISO 8601 timestamp with offset). Exit status: 0 ok, 1 run errors, 2 configuration errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from activation.config import ConfigError, load_config


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _ts(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    if ts.tzinfo is None:
        raise argparse.ArgumentTypeError(
            "the reference time needs a UTC offset, e.g. 2026-11-23T09:00:00+09:00"
        )
    return ts


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    _human(data)


def _human(data: Any, indent: int = 0) -> None:
    pad = "  " * indent
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                print(f"{pad}{key}:")
                _human(value, indent + 1)
            else:
                print(f"{pad}{key}: {value}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                print(f"{pad}-")
                _human(item, indent + 1)
            else:
                print(f"{pad}- {item}")
    else:
        print(f"{pad}{data}")


def _ref(args: argparse.Namespace, tz: str) -> datetime:
    from activation.api import default_reference_time

    return args.reference_time or default_reference_time(args.date, tz)


def cmd_validate(args: argparse.Namespace) -> int:
    config = load_config(args.dir)
    print(
        f"ok: {len(config.campaigns)} campaign(s), {len(config.templates)} template(s), {len(config.settings.syncs)} sync(s)"
    )
    for c in config.campaigns:
        trig = c.trigger
        when = trig.cron if trig.type == "schedule" else f"{trig.type} at {trig.send_time:%H:%M}"
        state = "" if c.enabled else " (disabled)"
        print(f"  {c.id}: {c.channel}/{c.kind}, {when}, priority {c.priority}{state}")
    if args.check_warehouse:
        from activation.validation import check_against_warehouse

        problems = check_against_warehouse(config)
        for p in problems:
            print(f"  warehouse: {p}")
        return 2 if problems else 0
    return 0


def cmd_due(args: argparse.Namespace) -> int:
    from activation.api import campaigns_due

    _print(campaigns_due(args.date, campaigns_dir=args.dir), args.json)
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from activation.api import preview

    tz = load_config(args.dir).settings.timezone
    out = preview(
        args.campaign,
        args.date,
        reference_time=_ref(args, tz),
        sample_size=args.samples,
        campaigns_dir=args.dir,
    )
    _print(out, args.json)
    return 1 if out.get("error") else 0


def cmd_send(args: argparse.Namespace) -> int:
    from activation.api import plan_and_send

    if not args.campaign and not args.all:
        raise SystemExit("crm send: give --campaign ID (repeatable) or --all")
    tz = load_config(args.dir).settings.timezone
    ref = _ref(args, tz)
    result = plan_and_send(
        args.date,
        campaign_ids=None if args.all else args.campaign,
        reference_time=ref,
        run_id=args.run_id or f"cli:{args.date.isoformat()}",
        dry_run=args.dry_run,
        campaigns_dir=args.dir,
    )
    out = result.to_dict()
    if not args.json:
        out["campaigns"] = {
            k: {
                "recipients": v.recipients,
                "by_status": v.by_status,
                "by_reason": v.by_reason,
                "by_variant": v.by_variant,
            }
            for k, v in result.campaigns.items()
        }
    _print(out, args.json)
    return 0 if result.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from activation.api import run_status

    out = run_status(
        args.date, refresh=args.refresh, reference_time=args.reference_time, campaigns_dir=args.dir
    )
    _print(out, args.json)
    return 1 if out["errors"] else 0


def cmd_sync(args: argparse.Namespace) -> int:
    from activation.api import sync_audiences

    tz = load_config(args.dir).settings.timezone
    reports = sync_audiences(
        args.date,
        reference_time=_ref(args, tz),
        run_id=args.run_id or f"cli-sync:{args.date.isoformat()}",
        sync_ids=args.sync or None,
        campaigns_dir=args.dir,
    )
    _print([r.__dict__ for r in reports], args.json)
    return 1 if any(r.errors for r in reports) else 0


def cmd_consent_due(args: argparse.Namespace) -> int:
    from activation.validation import consent_reconfirmation_due

    rows = consent_reconfirmation_due(args.date, within_days=args.within_days)
    by_channel: dict[str, int] = {}
    for r in rows:
        by_channel[r["channel"]] = by_channel.get(r["channel"], 0) + 1
    _print(
        {"due": len(rows), "by_channel": by_channel, "customers": rows if args.json else rows[:20]}, args.json
    )
    return 0


Extension = Callable[[Any], None]
"""Adds subcommands to ``crm`` from a layer above activation (``pipeline.cli``): called with the subparsers object."""


def build_parser(extensions: Sequence[Extension] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crm", description="CRM pipeline: import, campaigns, previews, sends, syncs, erasure."
    )
    parser.add_argument("--dir", help="campaigns folder (default: CRM_CAMPAIGNS_DIR or include/campaigns)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check every campaign file, the templates and settings")
    p.add_argument(
        "--check-warehouse", action="store_true", help="also check models and columns in the warehouse"
    )
    p.set_defaults(func=cmd_validate)

    def dated(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--date", type=_date, required=True, help="data date D (YYYY-MM-DD)")
        sp.add_argument("--reference-time", type=_ts, help="when the run acts (default D+1 00:00 local)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    p = dated("due", "campaigns due in the run of a date")
    p.set_defaults(func=cmd_due)
    p = dated("preview", "dry run of one campaign: counts, samples, cost")
    p.add_argument("--campaign", required=True)
    p.add_argument("--samples", type=int, default=5)
    p.set_defaults(func=cmd_preview)
    p = dated("send", "plan and send campaigns of a date (idempotent)")
    p.add_argument("--campaign", action="append", help="campaign id (repeatable)")
    p.add_argument("--all", action="store_true", help="every campaign due")
    p.add_argument("--run-id")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_send)
    p = dated("status", "what the ledger holds for a date")
    p.add_argument("--refresh", action="store_true", help="read delivery reports from the providers first")
    p.set_defaults(func=cmd_status)
    p = dated("sync", "diff-based audience sync (Channel Talk)")
    p.add_argument("--sync", action="append", help="sync id (repeatable; default all)")
    p.add_argument("--run-id")
    p.set_defaults(func=cmd_sync)
    p = dated("consent-due", "customers whose advertising consent needs re-confirmation (2-year rule)")
    p.add_argument("--within-days", type=int, default=30)
    p.set_defaults(func=cmd_consent_due)
    for extend in extensions:
        extend(sub)
    return parser


def main(argv: list[str] | None = None, extensions: Sequence[Extension] = ()) -> int:
    """Run the activation commands (plus any ``extensions``); ``pipeline.cli.main`` is the ``crm`` entry point."""
    args = build_parser(extensions).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    from include.core.pii import install_log_masking

    install_log_masking()
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
