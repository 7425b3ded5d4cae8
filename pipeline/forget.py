"""``crm forget``: erase a customer's contacts and personal fields everywhere the pipeline keeps them (개인정보 보호법 §36).

    crm forget --customer m0000041 [--phone 010-1234-5678] [--email kim@example.com] [--dry-run] [--json]

In order: find the customer (:mod:`pipeline.erase_subject`: ids, every contact and name the warehouse and the ledger
hold, plus those given), then erase them from

0. the customer's ids and contact hashes become ``erasure`` opt-outs in the ledger first: from then on no campaign,
   export or later night targets them, even if the storefront sends them again, whatever happens to the next steps;
1. the files under the data folder (:mod:`pipeline.erase_files`): dlt load packages and state, audience exports,
   reports and quality pages;
2. the warehouse (:mod:`pipeline.erase_warehouse`): raw tables, dlt staging copies, the quarantine and every
   dbt-built table, updated in place, then the file rewritten so no freed block keeps the values;
3. the send ledger (:mod:`activation.ledger.erase`): recipients, payloads and synced profiles, keeping every row,
   idempotency key and count (last, so a rerun after a failure still finds the contacts there).

Every step is idempotent, so a failed run is simply run again (give ``--phone``/``--email`` when the contacts may be
gone from the warehouse and the ledger already). Nothing else may write meanwhile (stop the scheduler or run between
nights): the ledger lock is held throughout and DuckDB refuses a second writer. The output lists what was erased
where, with the contacts masked. ``--dry-run`` counts without changing anything.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from include.core.settings import get_settings
from pipeline.erase_subject import Subject, discover_in_ledger, discover_in_warehouse


def forget_customer(
    member_id: str,
    *,
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    dry_run: bool = False,
) -> dict[str, Any]:
    """Erases ``member_id`` (and the given contacts) from ledger, warehouse and files; returns the counts."""
    from activation.ledger import Ledger
    from activation.ledger.erase import erase_customer, suppress_customer
    from pipeline.erase_files import erase_in_files
    from pipeline.erase_warehouse import erase_in_warehouse

    st = get_settings()
    subject = Subject(member_id=member_id, ids={member_id})
    for p in phones:
        subject.add_phone(p)
    for e in emails:
        subject.add_email(e)
    ledger = Ledger(st.ledger)
    try:
        with ledger.exclusive("send"), ledger.exclusive("sync"):
            discover_in_warehouse(subject, st.warehouse)
            discover_in_ledger(subject, ledger)
            at = datetime.now(UTC)
            suppressed = 0
            if not dry_run:
                suppressed = suppress_customer(
                    ledger, customer_ids=subject.ids, contact_hashes=subject.contact_hashes, at=at
                )
            # files and warehouse before the ledger: a rerun after a failure still finds the contacts in the ledger
            skip = (st.shop,) if st.shop.resolve().is_relative_to(st.data_dir.resolve()) else ()
            files = erase_in_files(
                st.data_dir, subject.ids, subject.contact_needles, skip=skip, dry_run=dry_run
            )
            warehouse = (
                erase_in_warehouse(st.warehouse, subject.ids, subject.contact_needles, dry_run=dry_run)
                if st.dbt_target == "duckdb"
                else {
                    "skipped": {
                        "reason": f"dbt target {st.dbt_target}: erase there with SQL (docs/operations.md)"
                    }
                }
            )
            ledger_counts = erase_customer(
                ledger,
                customer_ids=subject.ids,
                contact_hashes=subject.contact_hashes,
                needles=subject.needles,
                at=at,
                dry_run=dry_run,
            )
            ledger_counts["opt_outs_added"] += suppressed
    finally:
        ledger.close()
    return {
        "customer": subject.masked(),
        "dry_run": dry_run,
        "ledger": ledger_counts,
        "warehouse": warehouse,
        "files": files,
        "at": at.isoformat(),
    }


def cmd_forget(args: argparse.Namespace) -> int:
    """The ``forget`` subcommand."""
    out = forget_customer(
        args.customer, phones=args.phone or [], emails=args.email or [], dry_run=args.dry_run
    )
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return 0
    c = out["customer"]
    verb = "would erase" if args.dry_run else "erased"
    print(f"crm forget {args.customer}: {verb} ids {', '.join(c['ids'])}; phones {', '.join(c['phones']) or '-'}; "
          f"e-mails {', '.join(c['emails']) or '-'}")  # fmt: skip
    led = out["ledger"]
    print(f"  ledger    intents {led['intents']} (recipients cleared {led['intents_recipient_cleared']}, suppressed "
          f"{led['intents_suppressed']}), sync rows {led['sync_state']}, opt-outs added {led['opt_outs_added']}")  # fmt: skip
    for table, n in sorted(out["warehouse"].items()):
        print(f"  warehouse {table}: " + ", ".join(f"{k} {v}" for k, v in n.items()))
    for area, n in sorted(out["files"].items()):
        print(f"  files     {area}: " + ", ".join(f"{k} {v}" for k, v in n.items()))
    if not out["warehouse"] and not out["files"] and not led["intents"]:
        print("  nothing held for this customer (already erased, or an unknown id)")
    return 0


def register(sub: Any) -> None:
    """Add the `forget` subcommand to ``crm``."""
    p = sub.add_parser("forget", help="erase a customer's contacts and personal data (개인정보 보호법 §36)")
    p.add_argument("--customer", required=True, help="member id (customer id for guests)")
    p.add_argument("--phone", action="append", help="a phone number to erase too (repeatable)")
    p.add_argument("--email", action="append", help="an e-mail address to erase too (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="count what would be erased; change nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_forget)
