"""
### crm_campaign__&lt;id&gt; — one DAG per campaign file in `include/campaigns/`

Generated from the campaign YAML files (edit a file, the DAG follows). Triggered campaigns (segment transition, tier change,
sign-up without purchase, N days after delivery, subscription uses left) run when `crm_nightly` publishes the night's
audiences (Asset `crm_audiences`); scheduled campaigns run on their own cron in their own timezone and first wait for the
audiences of the previous day.

**wait_for_audiences → preview → send_list_gate → send → record**: the preview (dry run) and the gate's report land in
`data/runs/<date>/campaigns/<id>/`; the gate stops the send when the list breaks a rule (consent, night-time, `(광고)`
marking, opted-out/holdout/control customers, size). Sends are idempotent per (campaign, date, customer, step).

A campaign file that does not validate disables that campaign only: its DAG (`crm_campaign__<file name>`, tag
`config-error`) has one task, `config_error`, that fails with the file's problems each night (the audiences event),
so the error shows in the UI and raises the failure alert; every other campaign keeps running. A broken
`settings.yml` or `templates.yml` concerns every campaign and fails this file's import.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, task

from include.core.timezone import TIMEZONE
from pipeline.alerts import task_failure_alert
from pipeline.assets import AUDIENCES
from pipeline.campaign_runs import campaign_files

DEFAULT_ARGS = {
    "owner": "crm-marketing",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": task_failure_alert,
}


def build(campaign) -> DAG:
    """The DAG of one campaign."""
    scheduled = campaign.trigger.type == "schedule"
    schedule = (
        CronTriggerTimetable(campaign.trigger.cron, timezone=campaign.trigger.timezone)
        if scheduled
        else [AUDIENCES]
    )
    with DAG(
        dag_id=f"crm_campaign__{campaign.id}",
        doc_md=f"{__doc__}\n\n**{campaign.name}** — {campaign.description or ''}",
        schedule=schedule,
        start_date=pendulum.datetime(2026, 8, 1, tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["crm", "campaign", campaign.channel, campaign.kind, "scheduled" if scheduled else "triggered"],
        is_paused_upon_creation=not campaign.enabled,
    ) as dag:

        @task
        def context(**ctx) -> dict:
            from pipeline.campaign_runs import campaign_run_context

            return campaign_run_context(ctx, scheduled)

        @task.sensor(poke_interval=300, timeout=6 * 3600, mode="reschedule")
        def wait_for_audiences(rc: dict) -> bool:
            from datetime import date

            from pipeline.campaign_runs import audiences_published

            return audiences_published(date.fromisoformat(rc["data_date"]))

        @task
        def preview(rc: dict) -> dict:
            from pipeline import campaign_runs

            return campaign_runs.preview(campaign.id, rc)

        @task(pool="duckdb_writer", retries=0)
        def send_list_gate(rc: dict) -> dict:
            from pipeline import campaign_runs

            return campaign_runs.send_list_gate(campaign.id, rc)

        @task(pool="messaging_api")
        def send(rc: dict) -> dict:
            from pipeline import campaign_runs

            return campaign_runs.send(campaign.id, rc)

        @task(pool="messaging_api")
        def record(rc: dict) -> dict:
            from pipeline import campaign_runs

            return campaign_runs.record(campaign.id, rc)

        rc = context()
        wait_for_audiences(rc) >> preview(rc) >> send_list_gate(rc) >> send(rc) >> record(rc)
    return dag


def build_broken(dag_id: str, file: str, problems: str) -> DAG:
    """The DAG of a campaign file that does not validate: one task that fails with the file's problems."""
    with DAG(
        dag_id=dag_id,
        doc_md=f"{__doc__}\n\n**`{file}` is invalid — this campaign is disabled:**\n\n```\n{problems}\n```",
        schedule=[AUDIENCES],
        start_date=pendulum.datetime(2026, 8, 1, tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["crm", "campaign", "config-error"],
        is_paused_upon_creation=False,
    ) as dag:

        @task(retries=0)
        def config_error() -> None:
            from pipeline.campaign_runs import config_error as fail

            fail(file)

        config_error()
    return dag


def broken_dag_id(file: str, taken: set[str]) -> str:
    """``crm_campaign__<file stem>`` (characters Airflow refuses become ``_``), unique among ``taken``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", file.rsplit(".", 1)[0]) or "unnamed"
    dag_id, n = f"crm_campaign__{stem}", 1
    while dag_id in taken:
        n += 1
        dag_id = f"crm_campaign__{stem}_{n}"
    return dag_id


_campaigns, _broken = campaign_files()
for _campaign in _campaigns:
    globals()[f"crm_campaign__{_campaign.id}"] = build(_campaign)
for _file, _problems in sorted(_broken.items()):
    _dag_id = broken_dag_id(_file, set(globals()))
    globals()[_dag_id] = build_broken(_dag_id, _file, _problems)
