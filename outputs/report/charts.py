"""Plotly figures of the report, drawn only from the section dicts of :mod:`outputs.report.data`.

Each function returns a figure as a plain dict (``data`` + ``layout``), or ``None`` when its section has nothing to
draw (the page then shows the section's empty-state message). Rates stay fractions (axes format them as %), so the
values inside the traces are the very numbers of ``report.json``.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from outputs.labels import (
    CHANNEL_COLORS,
    FONT_STACK,
    HIGHLIGHT_CHANNEL,
    INFLOW_STEPS,
    MESSAGE_STEP_COLORS,
    MESSAGE_STEPS,
    SEGMENT_ORDER,
    SEGMENTS,
    TIER_COLORS,
    TIERS,
    VERDICT_DOWN,
    VERDICT_UP,
    segment_label,
)

HEIGHT = 360
UP, DOWN, NEUTRAL = "#2b8a3e", "#c92a2a", "#868e96"


def _layout(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "template": "plotly_white",
        "font": {"family": FONT_STACK, "size": 13, "color": "#343a40"},
        "height": HEIGHT,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "legend": {"orientation": "h", "y": 1.12, "x": 0},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"font": {"family": FONT_STACK}},
        "separators": ".,",
    }
    base.update(kw)
    return base


def _fig(traces: list[Any], **layout: Any) -> dict[str, Any]:
    fig = go.Figure(data=traces, layout=_layout(**layout))  # validates every property name
    return fig.to_plotly_json()


def segments(sec: dict[str, Any]) -> dict[str, Any] | None:
    """G1–G4 sizes: stacked areas over time, or today's bars on a first run without history."""
    if sec["status"] != "ok":
        return None
    if not sec["has_history"]:
        return _fig(
            [
                go.Bar(
                    x=[segment_label(s) for s in SEGMENT_ORDER],
                    y=[sec["today"][s] for s in SEGMENT_ORDER],
                    marker_color=[SEGMENTS[s]["color"] for s in SEGMENT_ORDER],
                    text=[f"{sec['today'][s]:,}명" for s in SEGMENT_ORDER],
                    textposition="outside",
                    name="오늘",
                    meta=list(SEGMENT_ORDER),
                )
            ],
            yaxis={"title": {"text": "고객 수"}, "tickformat": ","},
            showlegend=False,
        )
    traces = [
        go.Scatter(
            x=sec["dates"],
            y=sec["series"][s],
            name=segment_label(s),
            meta=s,
            mode="lines",
            stackgroup="segments",
            line={"width": 1, "color": SEGMENTS[s]["color"]},
            hovertemplate="%{x}<br>" + segment_label(s) + ": %{y:,}명<extra></extra>",
        )
        for s in SEGMENT_ORDER
    ]
    return _fig(
        traces,
        yaxis={"title": {"text": "고객 수"}, "tickformat": ","},
        xaxis={"type": "date", "tickformat": "%m/%d"},
        hovermode="x unified",
    )


def transitions(sec: dict[str, Any]) -> dict[str, Any] | None:
    """Who moved where today: rows = yesterday's segment (or new), columns = today's; the diagonal (stayed) is grey."""
    if sec["status"] != "ok":
        return None
    ys = [segment_label(f) for f in sec["from"]]
    xs = [segment_label(t) for t in sec["to"]]
    moves = [
        [None if f == t else v for t, v in zip(sec["to"], row, strict=True)]
        for f, row in zip(sec["from"], sec["matrix"], strict=True)
    ]
    stayed = [
        [v if f == t else None for t, v in zip(sec["to"], row, strict=True)]
        for f, row in zip(sec["from"], sec["matrix"], strict=True)
    ]

    def texts(grid: list[list[Any]], fmt: str) -> list[list[str]]:
        return [["" if v is None else fmt.format(v) for v in row] for row in grid]

    traces = [
        go.Heatmap(
            x=xs,
            y=ys,
            z=moves,
            text=texts(moves, "{:,}"),
            texttemplate="%{text}",
            name="이동",
            colorscale=[[0, "#f1f8f6"], [1, "#1b7f73"]],
            hovertemplate="%{y} → %{x}: %{z:,}명<extra></extra>",
            xgap=3,
            ygap=3,
            colorbar={"title": {"text": "이동 고객"}, "thickness": 12},
        ),
        go.Heatmap(
            x=xs,
            y=ys,
            z=stayed,
            text=texts(stayed, "유지 {:,}"),
            texttemplate="%{text}",
            name="유지",
            colorscale=[[0, "#e9ecef"], [1, "#e9ecef"]],
            showscale=False,
            hovertemplate="%{y} 유지: %{z:,}명<extra></extra>",
            xgap=3,
            ygap=3,
        ),
    ]
    return _fig(
        traces,
        xaxis={"title": {"text": "오늘 세그먼트"}, "side": "top"},
        yaxis={"title": {"text": "어제 세그먼트"}, "autorange": "reversed"},
        margin={"l": 110, "r": 20, "t": 60, "b": 20},
    )


def tiers(sec: dict[str, Any]) -> dict[str, Any] | None:
    if sec["status"] != "ok":
        return None
    rows = sec["tiers"]
    return _fig(
        [
            go.Bar(
                x=[TIERS[r["tier"]] for r in rows],
                y=[r["customers"] for r in rows],
                meta=[r["tier"] for r in rows],
                marker_color=[TIER_COLORS[r["tier"]] for r in rows],
                text=[f"{r['customers']:,}명 ({r['share']:.0%})" for r in rows],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x}: %{y:,}명<extra></extra>",
                name="고객 수",
            )
        ],
        yaxis={"title": {"text": "고객 수"}, "tickformat": ","},
        showlegend=False,
    )


def inflow(sec: dict[str, Any]) -> dict[str, Any] | None:
    """Share of sessions reaching each step, one line per channel; organic search drawn bold."""
    if sec["status"] != "ok":
        return None
    steps = [label for _, label in INFLOW_STEPS]
    traces = []
    for c in sec["channels"]:
        key = c["acquisition_channel"]
        hot = key == HIGHLIGHT_CHANNEL
        traces.append(
            go.Scatter(
                x=steps,
                y=[c["reach_rates"][s] for s, _ in INFLOW_STEPS],
                customdata=[c[s] for s, _ in INFLOW_STEPS],
                name=f"★ {c['label']}" if hot else c["label"],
                meta=key,
                mode="lines+markers+text" if hot else "lines+markers",
                text=[
                    f"{v:.1%}" if v is not None else ""
                    for v in (c["reach_rates"][s] for s, _ in INFLOW_STEPS)
                ]
                if hot
                else None,
                textposition="top right",
                line={"width": 4 if hot else 1.5, "color": CHANNEL_COLORS.get(key, "#adb5bd")},
                marker={"size": 10 if hot else 6},
                opacity=1 if hot else 0.8,
                hovertemplate=c["label"] + " · %{x}: %{customdata:,}세션 (%{y:.1%})<extra></extra>",
            )
        )
    return _fig(
        traces,
        yaxis={"title": {"text": "방문 대비 도달률"}, "tickformat": ".0%", "type": "log"},
        hovermode="closest",
    )


def _campaign_label(r: dict[str, Any]) -> str:
    return f"{r['campaign_name']} · {r['variant']}"


def message_funnel(sec: dict[str, Any]) -> dict[str, Any] | None:
    if sec["status"] != "ok":
        return None
    rows = [r for r in sec["rows"] if r["arm"] == "treatment"]
    if not rows:
        return None
    labels = [_campaign_label(r) for r in rows]
    traces = [
        go.Bar(
            x=labels,
            y=[r[key] for r in rows],
            name=label,
            meta=key,
            marker_color=color,
            text=[f"{r[key]:,}" for r in rows],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}<br>" + label + ": %{y:,}<extra></extra>",
        )
        for (key, label), color in zip(MESSAGE_STEPS, MESSAGE_STEP_COLORS, strict=True)
    ]
    return _fig(traces, barmode="group", yaxis={"title": {"text": "메시지 수"}, "tickformat": ","})


def campaign_lift(sec: dict[str, Any]) -> dict[str, Any] | None:
    """Absolute conversion lift vs holdout with its 95 % CI as error bars; green/red only when the CI excludes 0."""
    if sec["status"] != "ok":
        return None
    rows = [r for r in sec["rows"] if r.get("absolute_lift") is not None]
    if not rows:
        return None
    colors = [
        UP if r["verdict"] == VERDICT_UP else DOWN if r["verdict"] == VERDICT_DOWN else NEUTRAL for r in rows
    ]
    plus = [
        (r["absolute_lift_ci_high"] - r["absolute_lift"]) if r["absolute_lift_ci_high"] is not None else 0
        for r in rows
    ]
    minus = [
        (r["absolute_lift"] - r["absolute_lift_ci_low"]) if r["absolute_lift_ci_low"] is not None else 0
        for r in rows
    ]
    trace = go.Scatter(
        x=[r["absolute_lift"] for r in rows],
        y=[_campaign_label(r) for r in rows],
        mode="markers",
        name="절대 상승폭",
        marker={"size": 13, "color": colors, "symbol": "diamond"},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "thickness": 2,
            "width": 6,
            "color": "#495057",
        },
        customdata=[
            [
                r["absolute_lift_ci_low"],
                r["absolute_lift_ci_high"],
                r["recipients"],
                r["comparison_recipients"],
                r["verdict"],
            ]
            for r in rows
        ],
        hovertemplate="%{y}<br>상승폭 %{x:+.2%} (95% 신뢰구간 %{customdata[0]:+.2%} ~ %{customdata[1]:+.2%})"
        "<br>발송군 %{customdata[2]:,}명 · 비교군 %{customdata[3]:,}명<br>%{customdata[4]}<extra></extra>",
    )
    return _fig(
        [trace],
        xaxis={
            "title": {"text": "전환율 차이 (발송군 − 홀드아웃), 95% 신뢰구간"},
            "tickformat": "+.1%",
            "zeroline": True,
            "zerolinewidth": 2,
            "zerolinecolor": "#212529",
        },
        yaxis={"automargin": True, "autorange": "reversed"},
        height=max(220, 70 * len(rows) + 110),
        showlegend=False,
        margin={"l": 20, "r": 30, "t": 20, "b": 60},
    )


def review_coverage(sec: dict[str, Any]) -> dict[str, Any] | None:
    if sec["status"] != "ok":
        return None
    return _fig(
        [
            go.Scatter(
                x=sec["dates"],
                y=sec["share"],
                mode="lines",
                name="리뷰 10개 이상 상품 비중",
                line={"width": 3, "color": "#f08c00"},
                fill="tozeroy",
                fillcolor="rgba(240,140,0,0.12)",
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            )
        ],
        yaxis={"title": {"text": "판매 상품 중 비중"}, "tickformat": ".0%", "rangemode": "tozero"},
        xaxis={"type": "date", "tickformat": "%m/%d"},
        showlegend=False,
        height=300,
    )


def review_funnel(sec: dict[str, Any]) -> dict[str, Any] | None:
    if sec["status"] != "ok" or not sec["funnel"]["delivered_orders"]:
        return None
    f = sec["funnel"]
    steps = (
        ("delivered_orders", "배송 완료"),
        ("review_requested_orders", "리뷰 요청 발송"),
        ("reviewed_orders", "리뷰 작성"),
    )
    return _fig(
        [
            go.Funnel(
                y=[label for _, label in steps],
                x=[f[k] for k, _ in steps],
                meta=[k for k, _ in steps],
                textinfo="value+percent initial",
                marker={"color": ["#ffd8a8", "#ffa94d", "#e8590c"]},
                connector={"line": {"color": "#dee2e6"}},
                hovertemplate="%{y}: %{x:,}건<extra></extra>",
            )
        ],
        height=300,
        margin={"l": 110, "r": 20, "t": 20, "b": 20},
        showlegend=False,
    )


def subscriptions(sec: dict[str, Any]) -> dict[str, Any] | None:
    if sec["status"] != "ok":
        return None
    rows = sec["buckets"]
    x = [f"남은 {r['remaining_bucket']}회" for r in rows]
    auto = [r["active_auto_renewal"] for r in rows]
    manual = [r["active"] - r["active_auto_renewal"] for r in rows]
    return _fig(
        [
            go.Bar(
                x=x,
                y=auto,
                name="이용 중 · 자동 연장",
                marker_color="#2a9d8f",
                meta="active_auto_renewal",
                hovertemplate="%{x}: %{y:,}건<extra>자동 연장</extra>",
            ),
            go.Bar(
                x=x,
                y=manual,
                name="이용 중 · 자동 연장 꺼짐",
                marker_color="#f4a259",
                meta="active_manual",
                hovertemplate="%{x}: %{y:,}건<extra>자동 연장 꺼짐</extra>",
            ),
        ],
        barmode="stack",
        yaxis={"title": {"text": "이용 중인 정기배송"}, "tickformat": ","},
        xaxis={"title": {"text": "남은 배송 횟수 (많음 → 만료)"}},
        height=320,
    )


# chart id → the section of report.json whose numbers it draws
CHART_SECTIONS = {
    "chart-segments": "segments",
    "chart-transitions": "transitions",
    "chart-tiers": "tiers",
    "chart-inflow": "inflow",
    "chart-message-funnel": "message_funnel",
    "chart-campaign-lift": "campaign_results",
    "chart-review-coverage": "reviews",
    "chart-review-funnel": "reviews",
    "chart-subscriptions": "subscriptions",
}
_DRAW = {
    "chart-segments": segments,
    "chart-transitions": transitions,
    "chart-tiers": tiers,
    "chart-inflow": inflow,
    "chart-message-funnel": message_funnel,
    "chart-campaign-lift": campaign_lift,
    "chart-review-coverage": review_coverage,
    "chart-review-funnel": review_funnel,
    "chart-subscriptions": subscriptions,
}


def build_all(sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Chart id → figure for every chart that has something to draw."""
    figs = {cid: draw(sections[CHART_SECTIONS[cid]]) for cid, draw in _DRAW.items()}
    return {k: v for k, v in figs.items() if v is not None}
