"""
### crm_nightly — the nightly CRM cycle for one data date (a KST day)

extract (storefront API, event drops, messaging reports + send ledger) → **raw gate** (GX) → **dbt build** (Cosmos
WATCHER: one `dbt build` of the models, a task per model showing its result, then one `dbt test`) → **marts gate**
(GX) → **publish audiences** (warehouse tables + CSV/Parquet exports, Asset `crm_audiences`) → **audience sync**
(Channel Talk, diff-based) → **report** (HTML marketing-cycle report, dbt docs).

Campaign sends run in the `crm_campaign__*` DAGs, triggered by the `crm_audiences` Asset or their own cron.
The data interval is `[D 00:00, D+1 00:00)` Asia/Seoul; every task reads it, never the wall clock, so re-running a date
rebuilds the same tables. A manual `airflow dags test crm_nightly <D+1>` processes day D (interval timetable semantics);
`make demo DATE=D` does that for you.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, task

from include.core.timezone import TIMEZONE
from pipeline import dbt_cosmos
from pipeline.alerts import task_failure_alert
from pipeline.assets import AUDIENCES

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "on_failure_callback": task_failure_alert,
}

with DAG(
    dag_id="crm_nightly",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 8, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["crm", "nightly", "dbt", "quality", "activation"],
    user_defined_macros={"kst_date": lambda dt: dt.in_timezone(TIMEZONE).strftime("%Y-%m-%d")},
) as dag:

    @task(pool="duckdb_writer")
    def prepare(**context) -> dict:
        """Resolves the run context and makes sure every raw table of the contract exists."""
        from pipeline import nightly

        return nightly.prepare(context)

    @task(pool="storefront_api")
    def extract_storefront(rc: dict) -> dict:
        """Incremental storefront extraction (Cafe24 / Shopify API) into raw_cafe24 / raw_shopify."""
        from pipeline import nightly

        return nightly.extract_storefront(rc)

    @task(pool="duckdb_writer")
    def extract_events(rc: dict) -> dict:
        """The day's event drop files (plus late events) into raw_events."""
        from pipeline import nightly

        return nightly.extract_events(rc)

    @task(pool="messaging_api")
    def extract_messaging(rc: dict) -> dict:
        """Solapi delivery reports and the activation send ledger into raw_messaging."""
        from pipeline import nightly

        return nightly.extract_messaging(rc)

    @task(pool="duckdb_writer", retries=0)
    def raw_gate(rc: dict, storefront: dict, events: dict, messaging: dict) -> dict:
        """Great Expectations on the rows this run loaded; a critical failure stops the run here."""
        from pipeline import nightly

        return nightly.raw_gate(rc, [storefront, events, messaging])

    # one `dbt build` watched by a task per model, then one `dbt test` (pipeline/dbt_cosmos.py)
    dbt_build = dbt_cosmos.dbt_stage("dbt_build")

    @task(pool="duckdb_writer", retries=0)
    def marts_gate(rc: dict) -> dict:
        """Great Expectations on marts and audiences (one row per customer, segment shares, monotone funnels)."""
        from pipeline import nightly

        return nightly.marts_gate(rc)

    @task(pool="duckdb_writer", outlets=[AUDIENCES])
    def publish_audiences(rc: dict, **context) -> dict:
        """Exports the night's audiences (CSV + Parquet, contacts masked) and announces them as an Asset event."""
        from pipeline import nightly

        result = nightly.publish_audiences(rc)
        context["outlet_events"][AUDIENCES].extra = {"data_date": rc["data_date"], "run_id": rc["run_id"]}
        return result

    @task(pool="channeltalk_api")
    def sync_audiences(rc: dict) -> dict:
        """Diff-based audience sync to Channel Talk (profiles, tags, unsubscribe flags)."""
        from pipeline import nightly

        return nightly.sync_audiences(rc)

    @task(trigger_rule="all_done", pool="duckdb_writer")
    def report(rc: dict) -> dict:
        """Marketing-cycle HTML report, dbt docs and the run summary (also written when an upstream task failed)."""
        from pipeline import nightly

        return nightly.report(rc)

    rc = prepare()
    storefront = extract_storefront(rc)
    events = extract_events(rc)
    messaging = extract_messaging(rc)
    gate = raw_gate(rc, storefront, events, messaging)
    gate >> dbt_build
    mgate = marts_gate(rc)
    dbt_build >> mgate
    published = publish_audiences(rc)
    mgate >> published
    synced = sync_audiences(rc)
    published >> synced
    reported = report(rc)
    synced >> reported

    @task(trigger_rule="one_failed", retries=0)
    def fail_run() -> None:
        """Keeps the run failed when a task failed upstream, although the report (a leaf) still ran."""
        raise RuntimeError("crm_nightly: an upstream task failed; see the CRM ALERT lines and the run report")

    [storefront, events, messaging, gate, mgate, published, synced, reported] >> fail_run()
