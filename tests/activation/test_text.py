"""Message text rules: EUC-KR bytes, SMS/LMS choice, the advertising marks."""

from __future__ import annotations

from activation.text import (
    is_marked,
    mark_advertising,
    placeholders,
    render,
    sms_bytes,
    sms_type,
    strip_marks,
)

MARKS = {"sender_name": "펫마켓", "sender_contact": "1588-0000", "optout_080": "0805000000"}


def test_bytes_and_type() -> None:
    assert sms_bytes("abc") == 3
    assert sms_bytes("가나다") == 6
    assert sms_bytes("😀") == 2
    assert sms_type("가" * 45) == "SMS"
    assert sms_type("가" * 46) == "LMS"
    assert sms_type("a" * 2000) == "LMS"
    assert sms_type("a" * 2001) is None


def test_marks_are_added_once_and_in_place() -> None:
    text = mark_advertising("할인 쿠폰을 드려요", **MARKS)
    assert text.startswith("(광고)펫마켓 1588-0000\n")
    assert text.endswith("\n무료수신거부 080-500-0000")
    assert is_marked(text, **MARKS)
    again = mark_advertising("(광고) 할인 쿠폰을 드려요\n무료수신거부 080-000-0000", **MARKS)
    assert again == text
    assert strip_marks(text).strip().endswith("할인 쿠폰을 드려요")
    assert not is_marked("할인 쿠폰을 드려요", **MARKS)
    assert not is_marked("(광고)펫마켓 1588-0000\n할인", **MARKS)


def test_placeholders_render_exactly() -> None:
    assert placeholders("#{이름}님 #{상품명} #{이름}") == {"이름", "상품명"}
    assert render("#{이름}님, #{할인율}%", {"이름": "김철수", "할인율": "20"}) == "김철수님, 20%"
