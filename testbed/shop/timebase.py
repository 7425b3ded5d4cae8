"""Time arithmetic of the generator: epoch seconds (UTC) in numpy, KST days, diurnal patterns, Arrow timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from include.core.timezone import KST, TIMEZONE

KST_OFFSET = 9 * 3600
DAY = 86_400
NULL_TS = np.iinfo(np.int64).min  # marker for "never happened" in int64 second arrays
TS_TYPE = pa.timestamp("s", tz=TIMEZONE)

# Share of activity per KST hour (pet-supplies shops peak in the evening, a smaller lunch bump).
_HOURLY = np.array(
    [
        2.5,
        1.5,
        0.8,
        0.5,
        0.4,
        0.5,
        1.0,
        2.0,
        3.0,
        4.0,
        4.5,
        5.0,
        5.5,
        5.0,
        4.5,
        4.5,
        4.5,
        4.8,
        5.0,
        5.8,
        6.8,
        7.5,
        7.0,
        4.9,
    ]
)
HOURLY_WEIGHTS = _HOURLY / _HOURLY.sum()


@dataclass(frozen=True)
class Timebase:
    """The generated world's calendar: history from ``history_start`` to ``t_end`` (exclusive), events window."""

    end_date: date
    days: int
    history_days: int

    @property
    def t_end(self) -> int:
        """Epoch seconds of ``end_date + 1`` 00:00 KST (the end of the last generated day)."""
        return kst_midnight(self.end_date + timedelta(days=1))

    @property
    def window_start(self) -> int:
        """Epoch seconds of the first day with events (``end_date - days + 1``, 00:00 KST)."""
        return kst_midnight(self.window_first_date)

    @property
    def window_first_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def history_start(self) -> int:
        return self.t_end - self.history_days * DAY


def kst_midnight(d: date) -> int:
    """Epoch seconds of 00:00 KST on ``d``."""
    return int(datetime(d.year, d.month, d.day, tzinfo=KST).timestamp())


def kst_day(t: np.ndarray) -> np.ndarray:
    """KST calendar day number (days since 1970-01-01 KST) of epoch seconds."""
    return (t + KST_OFFSET) // DAY


def day_to_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(day))


def diurnal(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Keeps each time's KST day, redraws its time of day from the shop's hourly profile."""
    day0 = kst_day(t) * DAY - KST_OFFSET
    hour = rng.choice(24, len(t), p=HOURLY_WEIGHTS)
    return day0 + hour * 3600 + rng.integers(0, 3600, len(t))


def ts_array(sec: np.ndarray) -> pa.Array:
    """Arrow ``timestamp[s, Asia/Seoul]`` from epoch seconds; ``NULL_TS`` becomes null."""
    sec = np.asarray(sec, dtype=np.int64)
    mask = sec == NULL_TS
    return pa.array(np.where(mask, 0, sec), type=pa.int64(), mask=mask).cast(TS_TYPE)


def nullable_min(*arrays: np.ndarray) -> np.ndarray:
    """Element-wise min ignoring ``NULL_TS``."""
    big = np.iinfo(np.int64).max
    stacked = np.stack([np.where(a == NULL_TS, big, a) for a in arrays])
    out = stacked.min(axis=0)
    return np.where(out == big, NULL_TS, out)
