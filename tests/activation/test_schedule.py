"""When campaigns are due and the legal time windows (KST)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from act_helpers import KST, SHIPPED

from activation.config import load_config
from activation.schedule import (
    in_friendtalk_window,
    is_night,
    next_friendtalk_opening,
    next_morning,
    planned_send_time,
)


def test_weekly_monday_campaign_is_due_in_the_sunday_run() -> None:
    config = load_config(SHIPPED)
    seoul = config.campaign("seoul_signup_no_purchase_weekly")
    assert planned_send_time(seoul, date(2026, 11, 22), "Asia/Seoul") == datetime(
        2026, 11, 23, 9, 0, tzinfo=KST
    )
    assert planned_send_time(seoul, date(2026, 11, 23), "Asia/Seoul") is None
    review = config.campaign("review_request_3d")
    assert planned_send_time(review, date(2026, 11, 23), "Asia/Seoul") == datetime(
        2026, 11, 24, 14, 0, tzinfo=KST
    )


def test_night_and_friendtalk_windows() -> None:
    assert is_night(datetime(2026, 11, 23, 21, 0, tzinfo=KST))
    assert is_night(datetime(2026, 11, 23, 7, 59, tzinfo=KST))
    assert not is_night(datetime(2026, 11, 23, 8, 0, tzinfo=KST))
    assert next_morning(datetime(2026, 11, 23, 22, 30, tzinfo=KST)) == datetime(
        2026, 11, 24, 8, 0, tzinfo=KST
    )
    assert next_morning(datetime(2026, 11, 23, 3, 0, tzinfo=KST)) == datetime(2026, 11, 23, 8, 0, tzinfo=KST)
    assert in_friendtalk_window(datetime(2026, 11, 23, 19, 59, tzinfo=KST))
    assert not in_friendtalk_window(datetime(2026, 11, 23, 20, 0, tzinfo=KST))
    assert next_friendtalk_opening(datetime(2026, 11, 23, 20, 30, tzinfo=KST)) == datetime(
        2026, 11, 24, 8, 0, tzinfo=KST
    )
    # the windows are KST whatever the timezone of the value
    assert is_night(datetime(2026, 11, 23, 13, 0, tzinfo=UTC))  # 22:00 KST
    assert not is_night(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # 10:00 KST
