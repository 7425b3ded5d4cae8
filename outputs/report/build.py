"""Renders the marketing-cycle report: one self-contained HTML page plus ``report.json`` with the same numbers."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from include.core.currency import format_money, shop_currency
from include.core.pii import mask_text
from outputs import labels as L
from outputs.report import charts
from outputs.report.data import collect

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
TEMPLATES = Path(__file__).parent / "templates"


def build_report(
    warehouse: Path,
    data_date: date,
    run_id: str,
    out_path: Path,
    *,
    quality_dir: Path | None = None,
    extras: dict | None = None,
) -> Path:
    """Writes the marketing-cycle report of ``data_date`` to ``out_path`` and ``report.json`` beside it.

    The page is self-contained (plotly.js, styles and data inlined; no network) and Korean. Sections whose table
    is missing (an upstream task failed) or empty (no campaigns yet, first run) show a message instead of a chart.

    Args:
        warehouse: the DuckDB warehouse (opened read-only; a missing file gives a report of empty states).
        data_date: the run's data date (dbt's ``run_date``).
        run_id: the run id; the quality section shows this run's gate results.
        out_path: the HTML file to write (its folder is created).
        quality_dir: folder of the gates' HTML reports (``<gate>_gate.html``), linked from the quality section.
        extras: anything the pipeline wants shown under "실행 정보" (JSON-serialisable; contacts are masked).

    Returns:
        ``out_path``.
    """
    started = time.perf_counter()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sections = collect(Path(warehouse), data_date, run_id, out_dir=out_path.parent, quality_dir=quality_dir)
    extras_clean = _mask(json.loads(json.dumps(extras or {}, ensure_ascii=False, default=str)))
    report = {
        "format_version": FORMAT_VERSION,
        "data_date": data_date.isoformat(),
        "run_id": run_id,
        "headlines": headlines(sections),
        "kpi_cards": kpi_cards(sections["kpis"]),
        "sections": sections,
        "extras": extras_clean,
    }
    figures = charts.build_all(sections)
    report["charts"] = {cid: charts.CHART_SECTIONS[cid] for cid in sorted(figures)}
    html = _render(report, figures)
    _write_atomic(out_path, html.encode("utf-8"))
    _write_atomic(out_path.parent / "report.json", (_dumps(report, indent=2) + "\n").encode("utf-8"))
    log.info(
        "report for %s written to %s (%.1f MB, %d charts) in %.2f s",
        data_date,
        out_path,
        len(html) / 1e6,
        len(figures),
        time.perf_counter() - started,
    )
    return out_path


# ---- words and numbers ------------------------------------------------------------------------------------------


def fmt_int(v: Any) -> str:
    return "–" if v is None else f"{int(v):,}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f}%"


def fmt_pp(v: Any) -> str:
    """A difference of rates in percentage points: ``0.0123`` → ``+1.23%p``."""
    return "–" if v is None else f"{v * 100:+.2f}%p"


def fmt_krw(v: Any) -> str:
    """Short Korean money: ``123456789`` → ``1.23억원``, ``1234567`` → ``123만원``, else ``9,900원``."""
    if v is None:
        return "–"
    n = float(v)
    if abs(n) >= 1e8:
        return f"{n / 1e8:,.2f}억원"
    if abs(n) >= 1e4:
        return f"{n / 1e4:,.0f}만원"
    return f"{n:,.0f}원"


def fmt_money(v: Any, code: str | None = None) -> str:
    """Sales in the shop's currency (dbt var ``shop_currency``): KRW short as :func:`fmt_krw`, others exact with
    their symbol or code (``$1,234.50``). Message costs stay in won (:func:`fmt_krw`): providers bill in KRW."""
    code = code or shop_currency()
    return fmt_krw(v) if code == "KRW" else format_money(v, code)


def date_ko(d: str) -> str:
    x = date.fromisoformat(d)
    return f"{x.year}년 {x.month}월 {x.day}일 ({L.WEEKDAYS[x.weekday()]})"


def _delta(now: Any, before: Any) -> dict[str, Any]:
    if now is None or before is None:
        return {"text": "", "trend": "none"}
    diff = now - before
    pct = f" ({diff / before:+.0%})" if before else ""
    trend = "up" if diff > 0 else "down" if diff < 0 else "flat"
    return {"diff": diff, "trend": trend, "pct": pct}


def kpi_cards(k: dict[str, Any]) -> list[dict[str, Any]]:
    """The KPI cards at the top: value, display text and the comparison with the same weekday a week before."""
    if k["status"] != "ok":
        return []
    cards = [
        {
            "key": "customers",
            "label": "전체 고객",
            "value": k["customers"],
            "display": f"{k['customers']:,}명",
            "sub": f"회원 {k['members']:,}명 · 오늘 신규 {k['new_customers']:,}명",
        },
        {
            "key": "buyers",
            "label": "오늘 구매 고객",
            "value": k["buyers"],
            "display": f"{k['buyers']:,}명",
            "compare": _delta(k["buyers"], k["buyers_week_ago"]),
            "sub_prefix": "지난주 같은 요일",
        },
        {
            "key": "orders",
            "label": "오늘 주문",
            "value": k["orders"],
            "display": f"{k['orders']:,}건",
            "compare": _delta(k["orders"], k["orders_week_ago"]),
            "sub_prefix": "지난주 같은 요일",
        },
        {
            "key": "revenue_krw",
            "label": "오늘 순매출",
            "value": k["revenue_krw"],
            "display": fmt_money(k["revenue_krw"]),
            "compare": _delta(k["revenue_krw"], k["revenue_krw_week_ago"]),
            "sub_prefix": "지난주 같은 요일",
            "exact": format_money(k["revenue_krw"]),
        },
    ]
    sent, delivered = k.get("messages_sent"), k.get("messages_delivered")
    if sent is None:
        cards.append(
            {
                "key": "messages_sent",
                "label": "캠페인 메시지",
                "value": None,
                "display": "–",
                "sub": "메시지 데이터 없음",
            }
        )
    else:
        rate = f"도달률 {delivered / sent:.1%}" if sent else "아직 발송 없음"
        cards.append(
            {
                "key": "messages_sent",
                "label": "캠페인 메시지 (누적)",
                "value": sent,
                "display": f"{sent:,}건",
                "sub": f"캠페인 {k['campaigns']:,}개 · {rate}",
            }
        )
    for c in cards:
        cmp = c.get("compare")
        if cmp and cmp["trend"] != "none":
            sign = "▲" if cmp["trend"] == "up" else "▼" if cmp["trend"] == "down" else "–"
            diff = fmt_money(abs(cmp["diff"])) if c["key"] == "revenue_krw" else f"{abs(cmp['diff']):,}"
            c["sub"] = f"{c['sub_prefix']} 대비 {sign} {diff}{cmp['pct']}"
            c["trend"] = cmp["trend"]
    return cards


def headlines(s: dict[str, Any]) -> list[str]:
    """Three to six plain sentences a marketer reads before anything else."""
    out: list[str] = []
    seg, tr = s["segments"], s["transitions"]
    if seg["status"] == "ok":
        g4 = seg["today"]["G4"]
        line = f"전체 {seg['total']:,}명 중 G4 충성 고객은 {g4:,}명({seg['shares']['G4']:.1%})"
        if seg["yesterday"] is not None:
            line += f", 어제보다 {g4 - seg['yesterday']['G4']:+,}명"
        out.append(line + "입니다.")
    if tr["status"] == "ok":
        out.append(
            f"오늘 {tr['moved']:,}명이 세그먼트를 옮겼고 그중 {tr['upward']:,}명이 G4 방향으로 올라섰습니다 "
            f"(G4 진입 {tr['to_g4']:,}명, 신규 {tr['new_customers']:,}명)."
        )
    inflow = s["inflow"]
    if inflow["status"] == "ok":
        org = next((c for c in inflow["channels"] if c["acquisition_channel"] == L.HIGHLIGHT_CHANNEL), None)
        if org:
            out.append(
                f"최근 7일 방문의 {fmt_pct(org['session_share'], 0)}가 자연 검색 유입이며, "
                f"그 구매 전환율은 {fmt_pct(org['reach_rates']['purchase_sessions'])}입니다."
            )
    cr = s["campaign_results"]
    if cr["status"] == "ok":
        ups = [r for r in cr["rows"] if r["verdict"] == L.VERDICT_UP]
        names = ", ".join(f"{r['campaign_name']}({r['variant']})" for r in ups[:3])
        out.append(
            f"캠페인 변형 {len(cr['rows'])}개 중 {len(ups)}개가 홀드아웃보다 유의미하게 높은 전환율을 보였습니다"
            + (f": {names}." if ups else ".")
        )
    else:
        out.append("아직 홀드아웃과 비교할 캠페인 결과가 없습니다.")
    rv = s["reviews"]
    if rv["status"] == "ok":
        out.append(
            f"리뷰 10개 이상인 상품은 판매 상품의 {fmt_pct(rv['current_share'])}"
            f"({rv['products_at_review_target']:,}/{rv['selling_products']:,})입니다."
        )
    q = s["quality"]
    out.append(f"데이터 품질 검사: {L.STATUS_LABELS[q['overall']]}.")
    return out


# ---- rendering --------------------------------------------------------------------------------------------------


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return mask_text(value) if isinstance(value, str) else value


def _dumps(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str, **kw)


def _script_json(obj: Any) -> str:
    """JSON safe inside ``<script>``: no ``</script>`` or comment openers can appear."""
    return (
        _dumps(obj, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def _extras_rows(extras: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in extras.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and len(rows) < 200:
            rows.extend(_extras_rows(value, name + "."))
        else:
            text = value if isinstance(value, str) else _dumps(value)
            rows.append((name, text if len(text) <= 300 else text[:297] + "…"))
    return rows


def _render(report: dict[str, Any], figures: dict[str, Any]) -> str:
    import jinja2
    from plotly.offline import get_plotlyjs
    from plotly.utils import PlotlyJSONEncoder

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(int=fmt_int, pct=fmt_pct, pp=fmt_pp, krw=fmt_krw, money=fmt_money, seg=L.segment_label)
    figures_json = json.dumps(figures, cls=PlotlyJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    figures_json = figures_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    css = (TEMPLATES / "report.css").read_text("utf-8")
    return env.get_template("report.html.j2").render(
        r=report,
        s=report["sections"],
        L=L,
        date_ko=date_ko(report["data_date"]),
        css=css,
        font_stack=L.FONT_STACK,
        report_json=_script_json(report),
        figures_json=figures_json,
        plotly_js=get_plotlyjs(),
        extras_rows=_extras_rows(report["extras"]),
        charts=set(figures),
        chart_sections=charts.CHART_SECTIONS,
    )


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
