"""Korean labels, colours and wording shared by the audience exports and the report (one place to edit them)."""

from __future__ import annotations

# Font stack of every page and chart: Debian's fonts-nanum registers "NanumGothic", other systems have Noto/Apple/Malgun.
FONT_STACK = (
    '"Nanum Gothic", "NanumGothic", "나눔고딕", "Noto Sans CJK KR", "Noto Sans KR", '
    '"Apple SD Gothic Neo", "Malgun Gothic", sans-serif'
)

SEGMENT_ORDER = ("G1", "G2", "G3", "G4")
SEGMENTS: dict[str, dict[str, str]] = {
    "G1": {
        "name": "브랜드 인지",
        "axes": "관심 낮음 · 전환 낮음",
        "who": "브랜드를 막 알게 된 고객",
        "play": "가입 유도, 브랜드 스토리 + 베스트셀러로 이탈 방지",
        "color": "#8d99ae",
    },
    "G2": {
        "name": "관심 증폭",
        "axes": "관심 높음 · 전환 낮음",
        "who": "관심은 많지만 구매를 망설이는 고객",
        "play": "시크릿 쿠폰, 기간 한정 쿠폰 (즉시 혜택)",
        "color": "#f4a259",
    },
    "G3": {
        "name": "빠른 전환",
        "axes": "관심 낮음 · 전환 높음",
        "who": "필요한 것만 사는 목적형 고객",
        "play": "구매 상품 재구매 알림, 연관 상품 추천",
        "color": "#5b8def",
    },
    "G4": {
        "name": "충성 고객",
        "axes": "관심 높음 · 전환 높음",
        "who": "모든 CRM의 목표",
        "play": "업셀·크로스셀, 신상품 소개",
        "color": "#2a9d8f",
    },
}
NEW_SEGMENT_LABEL = "신규"


def segment_label(code: str | None) -> str:
    """``G2`` → ``G2 관심 증폭``; ``None``/``new`` → ``신규``."""
    if code is None or code == "new":
        return NEW_SEGMENT_LABEL
    info = SEGMENTS.get(code)
    return f"{code} {info['name']}" if info else str(code)


TIER_ORDER = ("prospect", "first", "second", "repeat", "loyal")
TIERS: dict[str, str] = {
    "prospect": "구매 전 (0회)",
    "first": "첫 구매 (1회)",
    "second": "2회 구매",
    "repeat": "재구매 (3~9회)",
    "loyal": "찐 고객 (10회+)",
}
TIER_COLORS = {
    "prospect": "#ced4da",
    "first": "#a5d8ff",
    "second": "#74c0fc",
    "repeat": "#339af0",
    "loyal": "#1864ab",
}
BENEFIT_SCOPES = {
    "all_products": "전 상품",
    "preferred_category": "선호 카테고리",
    "preferred_products": "선호 상품",
}

CHANNEL_ORDER = ("organic_search", "paid", "social", "messaging", "direct", "unknown")
CHANNELS: dict[str, str] = {
    "organic_search": "자연 검색",
    "paid": "유료 광고",
    "social": "소셜",
    "messaging": "CRM 메시지",
    "direct": "직접 방문",
    "unknown": "알 수 없음",
}
CHANNEL_COLORS = {
    "organic_search": "#e8590c",
    "paid": "#adb5bd",
    "social": "#b197fc",
    "messaging": "#63e6be",
    "direct": "#74c0fc",
    "unknown": "#dee2e6",
}
HIGHLIGHT_CHANNEL = "organic_search"

INFLOW_STEPS = (
    ("sessions", "방문"),
    ("product_view_sessions", "상품 조회"),
    ("cart_add_sessions", "장바구니"),
    ("checkout_sessions", "결제 시작"),
    ("purchase_sessions", "구매"),
)
MESSAGE_STEPS = (
    ("sent", "발송"),
    ("delivered", "도달"),
    ("clicked", "클릭"),
    ("converted", "구매 전환"),
)
MESSAGE_STEP_COLORS = ("#adb5bd", "#74c0fc", "#4dabf7", "#2a9d8f")
ARMS = {"treatment": "발송군", "holdout": "홀드아웃", "control": "전체 대조군"}

GATES: dict[str, str] = {"raw": "원천 데이터 검사", "marts": "마트 검사", "send_list": "발송 목록 검사"}
GATE_ORDER = ("raw", "marts", "send_list")
STATUS_LABELS = {"PASS": "통과", "WARN": "경고", "FAIL": "실패", "NONE": "결과 없음"}
SEVERITIES = {"critical": "심각", "warning": "경고", "info": "참고"}

VERDICT_UP = "유의미한 상승"
VERDICT_DOWN = "유의미한 하락"
VERDICT_UNCLEAR = "차이 불확실"
VERDICT_NO_COMPARISON = "비교군 없음"
VERDICT_NOT_MEASURABLE = "판단 불가"

WEEKDAYS = ("월", "화", "수", "목", "금", "토", "일")
