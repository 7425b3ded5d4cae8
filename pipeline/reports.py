"""Task logic of ``crm_messaging_reports``: delivery reports and opt-outs pulled during the day.

Each hourly run reads the Solapi message list for its hour (incremental by ``dateUpdated``), refreshes the send ledger's
statuses from the provider (which also records 080 opt-outs, 1061/2061, so they suppress at once in every campaign)
and loads the ledger's send log into the warehouse. The interval is the run's hour, never the wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from include.core.timezone import KST


def pull(context: dict[str, Any]) -> dict:
    """Reports of the run's interval into raw_messaging, ledger refresh, send log export."""
    from activation.api import run_status
    from include.extract.messaging import extract_message_reports
    from include.extract.send_log import load_send_log

    start: datetime = context["data_interval_start"].astimezone(KST)
    end: datetime = context["data_interval_end"].astimezone(KST)
    reports = extract_message_reports(start, end)
    # statuses of the send day the reports belong to: the run date D whose messages go out on D+1
    run_date = start.date() - timedelta(days=1)
    status = run_status(run_date, refresh=True, reference_time=end)
    send_log = load_send_log(end)
    return {
        "interval": [start.isoformat(), end.isoformat()],
        "reports": reports.get("rows"),
        "ledger_errors": status.get("errors"),
        "send_log": send_log,
    }
