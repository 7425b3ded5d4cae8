"""When campaigns are due and when their messages go out; the legal time windows.

The run for data date ``D`` sees the shop as of ``D+1 00:00`` KST and sends on ``D+1``: a scheduled campaign is due
when its cron fires on ``D+1`` (in its timezone), a triggered campaign is due every day and sends at its
``send_time`` on ``D+1``. Nothing here reads the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from activation.config.models import Campaign
from include.core.timezone import KST

# Network Act art. 50(3): advertising 21:00-08:00 needs separate night consent (fixed by law, not configurable).
NIGHT_START = time(21, 0)
NIGHT_END = time(8, 0)
# Kakao FriendTalk is delivered only 08:00-20:00 (Solapi 3108 otherwise).
FRIENDTALK_START = time(8, 0)
FRIENDTALK_END = time(20, 0)


def send_day(run_date: date) -> date:
    """The day the run of data date ``run_date`` sends on: ``D+1``."""
    return run_date + timedelta(days=1)


def planned_send_time(campaign: Campaign, run_date: date, timezone: str) -> datetime | None:
    """The campaign's send time for the run of ``run_date`` (aware datetime), or ``None`` when it is not due."""
    day = send_day(run_date)
    if not campaign.is_active(day):
        return None
    trig = campaign.trigger
    if trig.type == "schedule":
        from croniter import croniter

        tz = ZoneInfo(trig.timezone)
        start = datetime.combine(day, time(0, 0), tzinfo=tz) - timedelta(seconds=1)
        fire = croniter(trig.cron, start).get_next(datetime)
        if fire.tzinfo is None:
            fire = fire.replace(tzinfo=tz)
        return fire if fire.date() == day else None
    return datetime.combine(day, trig.send_time, tzinfo=ZoneInfo(timezone))


def due_campaigns(
    campaigns: list[Campaign], run_date: date, timezone: str
) -> list[tuple[Campaign, datetime]]:
    """Campaigns due in the run of ``run_date`` with their planned send times, highest priority first."""
    out = []
    for c in campaigns:
        at = planned_send_time(c, run_date, timezone)
        if at is not None:
            out.append((c, at))
    return sorted(out, key=lambda pair: (-pair[0].priority, pair[0].id))


def is_night(at: datetime) -> bool:
    """True when ``at`` falls in 21:00-08:00 KST."""
    local = at.astimezone(KST).time()
    return local >= NIGHT_START or local < NIGHT_END


def next_morning(at: datetime) -> datetime:
    """The next 08:00 KST at or after ``at``."""
    local = at.astimezone(KST)
    morning = datetime.combine(local.date(), NIGHT_END, tzinfo=KST)
    return morning if local <= morning else morning + timedelta(days=1)


def in_friendtalk_window(at: datetime) -> bool:
    """True when ``at`` falls in 08:00-20:00 KST."""
    local = at.astimezone(KST).time()
    return FRIENDTALK_START <= local < FRIENDTALK_END


def next_friendtalk_opening(at: datetime) -> datetime:
    """The next 08:00 KST at or after ``at`` when FriendTalk is delivered again."""
    local = at.astimezone(KST)
    opening = datetime.combine(local.date(), FRIENDTALK_START, tzinfo=KST)
    return opening if local <= opening else opening + timedelta(days=1)
