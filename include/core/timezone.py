"""The business time zone, once: the dbt var ``business_timezone`` (``Asia/Seoul``).

Dates everywhere are calendar days in this zone: the data date of a run, a send day, the folder of a run's
artifacts, a naive timestamp in an export file. The shops this pipeline serves sell under Korean messaging law,
whose clocks (the 21:00-08:00 night rule, FriendTalk hours) are Korea Standard Time, and Cafe24 answers in KST:
so the zone is named :data:`KST` in code, and SQL reads the same value as ``var('business_timezone')``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from include.core.rules import business_timezone

TIMEZONE: str = business_timezone()
KST = ZoneInfo(TIMEZONE)
