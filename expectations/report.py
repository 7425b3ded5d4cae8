"""A self-contained HTML report per gate per run (readable without engineering knowledge) and the gate's log line."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from expectations.result import GateResult
from include.core.pii import mask_text

log = logging.getLogger("crm.quality")

GATE_TITLES = {
    "raw": ("Raw data gate", "원천 데이터 검사", "what extraction landed tonight, before dbt builds on it"),
    "import": ("Import gate", "가져오기 검사", "what one file import loaded, before anything builds on it"),
    "marts": ("Marts gate", "마트 검사", "what dbt built tonight, before audiences are published"),
    "send_list": (
        "Send-list gate",
        "발송 목록 검사",
        "who is about to receive which message, before anything is sent",
    ),
}
STATUS_LABELS = {"PASS": "통과", "WARN": "경고", "FAIL": "실패"}
NEXT_STEP = {
    "PASS": "Every check held. The run continues.",
    "WARN": "The run continues; the warnings below deserve a look.",
}
STOPPED = {
    "raw": "dbt, audiences and sends for this date did not run on this data",
    "import": "the import is untrustworthy: do not build on it before the file is checked",
    "marts": "audiences were not published or synced",
    "send_list": "nothing of this campaign run was sent",
}


def next_step(result: GateResult) -> str:
    """What the reader should know/do, by status and gate."""
    if result.status != "FAIL":
        return NEXT_STEP[result.status]
    key = "send_list" if result.gate.startswith("send_list") else result.gate
    stopped = STOPPED.get(key, "the steps after this gate did not run")
    return f"The run was STOPPED here: {stopped}. Fix the cause named below, then clear and rerun this task."


_TEMPLATE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8">
<title>{{ title }} {{ result.status }} — {{ result.data_date }}</title>
<style>
body{font-family:-apple-system,"Segoe UI","Apple SD Gothic Neo","Noto Sans KR",sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.badge{display:inline-block;padding:.2rem .7rem;border-radius:1rem;color:#fff;font-weight:600}
.PASS{background:#2e7d32}.WARN{background:#ed6c02}.FAIL{background:#c62828}
.meta{color:#555;font-size:.9rem} .next{padding:.7rem 1rem;border-left:4px solid #888;background:#f6f6f6;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#fafafa} tr.critical td:first-child{border-left:4px solid #c62828} tr.warning td:first-child{border-left:4px solid #ed6c02}
.ok{color:#2e7d32}.bad{color:#c62828}.warn{color:#ed6c02} code{font-size:.85rem} details{margin:.4rem 0}
</style></head><body>
<h1>{{ title }} <small>({{ title_ko }})</small> <span class="badge {{ result.status }}">{{ result.status }} · {{ status_ko }}</span></h1>
<div class="meta">Data date <b>{{ result.data_date }}</b> · run <code>{{ result.run_id }}</code> · evaluated at {{ evaluated_at }} ·
checks {{ counts.succeeded }}/{{ counts.evaluated }} held · {{ purpose }}</div>
<div class="next">{{ next_step }}</div>
{% if counts.rows %}<p class="meta">Rows checked: {% for t, n in counts.rows.items() %}<code>{{ t }}</code> {{ "{:,}".format(n) }}{% if not loop.last %} · {% endif %}{% endfor %}
{% if counts.quarantined is defined %} · quarantined rows (new): {{ counts.quarantined }}{% endif %}</p>{% endif %}
{% if counts.quarantined_by_rule %}<p class="meta">Rows quarantined (moved out of raw, night goes on):
{% for t, by in counts.quarantined_by_rule.items() %}<code>{{ t }}</code> {% for rule, n in by.items() %}{{ rule }} {{ "{:,}".format(n) }}{% if not loop.last %}, {% endif %}{% endfor %}{% if not loop.last %} · {% endif %}{% endfor %}
{% if counts.cascaded_to_quarantine %} · with their lines: {% for t, n in counts.cascaded_to_quarantine.items() %}<code>{{ t }}</code> {{ n }}{% endfor %}{% endif %}</p>{% endif %}
{% for heading, rows in [("Critical failures (심각) — these stopped the run", critical), ("Warnings (경고) — recorded, the run continued", warnings)] %}
<h2>{{ heading }} ({{ rows|length }})</h2>
{% if rows %}<table><tr><th>Where</th><th>What is wrong</th><th>Observed</th><th>Rule</th><th>Examples</th></tr>
{% for o in rows %}<tr class="{{ o.severity }}"><td><code>{{ o.target }}</code></td><td>{{ o.reason }}</td><td>{{ o.observed_value or "" }}</td>
<td>{{ o.details.rule }}<br><small><code>{{ o.expectation }}</code></small></td><td><small>{{ examples(o) }}</small></td></tr>{% endfor %}</table>
{% else %}<p class="ok">None.</p>{% endif %}
{% endfor %}
<h2>Every check, by table (전체 검사 항목)</h2>
{% for table, rows in by_table.items() %}
<details{% if rows|selectattr("success", "false")|list %} open{% endif %}><summary><code>{{ table }}</code> —
{{ rows|selectattr("success")|list|length }}/{{ rows|length }} held</summary>
<table><tr><th>Check</th><th>Column</th><th>Severity</th><th>Result</th><th>Observed</th></tr>
{% for o in rows %}<tr><td>{{ o.details.rule }}<br><small><code>{{ o.expectation }}</code></small></td><td>{{ o.column_name or "" }}</td>
<td>{{ o.severity }}</td><td class="{{ 'ok' if o.success else ('bad' if o.severity == 'critical' else 'warn') }}">{{ "held" if o.success else "FAILED" }}</td>
<td>{{ o.observed_value or "" }}</td></tr>{% endfor %}</table></details>
{% endfor %}
{% if thresholds %}<h2>Thresholds used (기준값)</h2><table>{% for k, v in thresholds.items() %}<tr><td><code>{{ k }}</code></td><td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}
<p class="meta">Phone numbers and e-mail addresses are masked. Generated by the crm-pipeline quality gates (Great Expectations {{ gx_version }}).</p>
</body></html>
"""


def _examples(outcome: Any) -> str:
    d = outcome.details
    parts = []
    if d.get("sample_keys"):
        keys = list(dict.fromkeys(_short(k) for k in d["sample_keys"]))
        parts.append("keys: " + ", ".join(keys[:5]))
    if d.get("sample_values"):
        vals = d["sample_values"][:5]
        parts.append("values: " + ", ".join(_short(v) for v in vals))
    if d.get("error"):
        parts.append("error: " + d["error"])
    return mask_text(" · ".join(parts))


def _short(value: Any) -> str:
    if isinstance(value, dict):
        if set(value) == {"value", "count"}:
            return f"{value['value']!s} ×{value['count']}"
        return "/".join(str(v) for v in value.values())
    return str(value)


def write_report(
    result: GateResult, report_dir: Path, *, evaluated_at: datetime, thresholds: dict[str, Any] | None = None
) -> Path:
    """Writes ``<report_dir>/<gate>_gate.html`` (overwritten by a rerun of the same run) and returns its path."""
    import great_expectations as gx
    import jinja2

    env = jinja2.Environment(autoescape=True)
    env.globals["examples"] = _examples
    title, title_ko, purpose = GATE_TITLES.get(result.gate, (result.gate, result.gate, ""))
    by_table: dict[str, list] = defaultdict(list)
    for o in result.outcomes:
        by_table[o.table_name].append(o)
    html = env.from_string(_TEMPLATE).render(
        result=result,
        counts=result.counts,
        title=title,
        title_ko=title_ko,
        purpose=purpose,
        status_ko=STATUS_LABELS[result.status],
        next_step=next_step(result),
        critical=result.critical,
        warnings=result.warnings,
        by_table=dict(by_table),
        evaluated_at=evaluated_at.isoformat(),
        thresholds=thresholds or {},
        gx_version=gx.__version__,
    )
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"{result.gate}_gate.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(mask_text(html), encoding="utf-8")
    tmp.replace(path)
    return path


def log_result(result: GateResult) -> None:
    """One log line per gate: INFO on PASS, WARNING on WARN, ERROR on FAIL; contacts masked."""
    level = {"PASS": logging.INFO, "WARN": logging.WARNING, "FAIL": logging.ERROR}[result.status]
    log.log(level, "%s", mask_text(result.summary()))
