"""
### crm_messaging_reports — delivery reports and opt-outs during the sending day

Every hour from 08:00 to 22:00 (Asia/Seoul): pull the provider's message list for the hour (Solapi `GET /messages/v4/list`,
incremental by `dateUpdated`) into `raw_messaging.message_reports`, refresh the send ledger from it (delivered / failed /
fallback; 080 opt-outs suppress at once in every campaign) and load the ledger's send log into the warehouse, so the
message funnel is current before the next nightly run.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, task

from include.core.timezone import TIMEZONE
from pipeline.alerts import task_failure_alert

with DAG(
    dag_id="crm_messaging_reports",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 8-22 * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 8, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": task_failure_alert,
    },
    tags=["crm", "messaging", "reports"],
) as dag:

    @task(pool="duckdb_writer")
    def pull_reports(**context) -> dict:
        """Reports of the hour → raw_messaging; ledger statuses and opt-outs refreshed; send log exported."""
        from pipeline.reports import pull

        return pull(context)

    pull_reports()
