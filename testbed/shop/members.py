"""Members: sign-ups over ~3 years, latent engagement × purchase propensity, consents and their changes.

Each member gets two latent normals drawn from a Gaussian copula (rho≈0.5): ``z_engage`` drives browsing
sessions, ``z_buy`` drives whether and how often they buy. They are correlated but not equal, so every G1–G4
quadrant (interest × conversion) is populated. Members are made a chunk at a time (a run of whole blocks of
:mod:`testbed.shop.blocks`); member ``i`` of ``n`` signs up at a time that grows with ``i`` (see :func:`signup_times`),
so ids stay in sign-up order without sorting the whole shop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from testbed.shop import people
from testbed.shop.blocks import BLOCK_MEMBERS, BlockRng, Draw
from testbed.shop.catalog import PLATFORM_WEIGHTS
from testbed.shop.timebase import DAY, HOURLY_WEIGHTS, KST_OFFSET, NULL_TS, Timebase, ts_array

CONSENT_CHANNELS: tuple[str, ...] = ("sms", "news_mail", "kakao", "push", "night")
# P(opt-in at sign-up) per channel; night consent only asked when sms or kakao was given.
CONSENT_AT_SIGNUP = {"sms": 0.62, "news_mail": 0.48, "kakao": 0.58, "push": 0.42, "night": 0.30}
OPT_OUT_PER_YEAR = 0.15  # hazard of withdrawing a given consent
OPT_IN_PER_YEAR = 0.05  # hazard of giving a consent refused at sign-up
RECONSENT_SHARE = 0.5  # members past 2 years who re-confirmed their consents (the rest are due)
ENGAGE_BUY_RHO = 0.5
_HOUR_CDF = np.concatenate([[0.0], np.cumsum(HOURLY_WEIGHTS)])


@dataclass
class Members:
    """Arrays of one chunk's members, indexed by position in the chunk (0..n-1, ordered by sign-up).

    Member ``j`` of the chunk is member ``first + j`` of the shop (id ``m{first + j + 1:07d}``) and lies in the
    chunk's block ``blk[j]``.
    """

    n: int
    first: int
    blk: np.ndarray
    member_id: pa.Array
    signup: np.ndarray  # epoch s
    active_end: np.ndarray  # epoch s after which the member has churned (may be beyond t_end)
    z_engage: np.ndarray
    z_buy: np.ndarray
    platform: np.ndarray  # primary device's platform index
    has_second_device: np.ndarray
    region: np.ndarray
    name: pa.Array
    cellphone: pa.Array
    email: pa.Array
    review_propensity: np.ndarray
    table: pa.Table  # customers without login_dates (added once orders and sessions are known)


def _copula(rng: Draw, n: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    return a, rho * a + np.sqrt(1 - rho**2) * b


def signup_times(tb: Timebase, q: np.ndarray) -> np.ndarray:
    """Sign-up instants at quantiles ``q`` in [0, 1) of the sign-up distribution, non-decreasing in ``q``.

    The shop grows: 75 % of sign-ups have a linearly increasing density over the history, 25 % are flat, so the
    position ``x`` in the history has CDF ``F(x) = 0.75·x² + 0.25·x``; the time of day follows the shop's hourly
    profile. Both are applied as monotone maps (``F⁻¹``, then the hourly quantile function inside the KST day), so
    member ``i`` of ``n`` drawn at ``q = (i + U) / n`` lands in sign-up order without a global sort.
    """
    x = (-0.25 + np.sqrt(0.0625 + 3.0 * q)) / 1.5
    local = tb.history_start + KST_OFFSET + x * (tb.t_end - tb.history_start - 1)
    day = np.floor(local / DAY)
    f = local / DAY - day  # position inside the KST day, spread over the hours by their share of activity
    hour = np.clip(np.searchsorted(_HOUR_CDF, f, side="right") - 1, 0, 23)
    second = np.minimum((f - _HOUR_CDF[hour]) / HOURLY_WEIGHTS[hour] * 3600, 3599).astype(np.int64)
    t = day.astype(np.int64) * DAY - KST_OFFSET + hour * 3600 + second
    return np.minimum(t, tb.t_end - 1)


def make_members(
    rngs: BlockRng, pools: people.Pools, tb: Timebase, first: int, n: int, total: int
) -> Members:
    """Members ``first .. first + n - 1`` of a shop of ``total``, with sign-ups growing over the history."""
    blk = np.arange(n) // BLOCK_MEMBERS
    rng = rngs.over(blk)
    idx = first + np.arange(n)
    signup = signup_times(tb, (idx + rng.random(n)) / total)

    z_engage, z_buy = _copula(rng, n, ENGAGE_BUY_RHO)
    life_days = rng.exponential(550.0, n) * np.exp(0.35 * z_buy)
    active_end = signup + (life_days * DAY).astype(np.int64)

    idx = idx + 1
    member_id = pc.binary_join_element_wise("m", pc.utf8_lpad(pa.array(idx).cast(pa.string()), 7, "0"), "")
    name = people.names(rng, pools, n)
    cellphone = people.phones(rng, idx)
    email = people.emails(rng, pools, idx)
    address, region = people.addresses(rng, pools, n)
    platform = rng.choice(3, n, p=PLATFORM_WEIGHTS)
    has_second = rng.random(n) < 0.3

    g = rng.random(n)
    gender = pa.array(np.where(g < 0.58, "F", np.where(g < 0.88, "M", None)), pa.string())
    age_days = (np.clip(rng.normal(36, 9, n), 19, 70) * 365.25).astype(np.int64)
    bday = ts_array(signup - age_days * DAY + rng.integers(-180, 180, n) * DAY)
    birthday = pc.if_else(
        pa.array(rng.random(n) < 0.75), pc.strftime(bday, "%Y-%m-%d"), pa.nulls(n, pa.string())
    )

    cols: dict[str, pa.Array] = {
        "member_id": member_id,
        "name": name,
        "cellphone": cellphone,
        "email": email,
        "gender": gender,
        "birthday": birthday,
        "address1": address,
        "created_date": ts_array(signup),
    }
    cols.update(_consents(rng, tb, signup, platform))
    return Members(
        n=n,
        first=first,
        blk=blk,
        member_id=member_id,
        signup=signup,
        active_end=active_end,
        z_engage=z_engage,
        z_buy=z_buy,
        platform=platform,
        has_second_device=has_second,
        region=region,
        name=name,
        cellphone=cellphone,
        email=email,
        review_propensity=rng.beta(0.35, 9.0, n),
        table=pa.table(cols),
    )


def _consents(rng: Draw, tb: Timebase, signup: np.ndarray, platform: np.ndarray) -> dict[str, pa.Array]:
    """Per channel: the value given at sign-up and at most one later flip (opt-out or late opt-in)."""
    n = len(signup)
    tenure = (tb.t_end - signup) / (365.25 * DAY)
    out: dict[str, pa.Array] = {}
    initial: dict[str, np.ndarray] = {}
    for ch in CONSENT_CHANNELS:
        p = np.full(n, CONSENT_AT_SIGNUP[ch])
        if ch == "push":
            p = np.where(platform == 0, 0.15, 0.6)  # app users are asked by the OS prompt
        given = rng.random(n) < p
        if ch == "night":
            given &= initial["sms"] | initial["kakao"]
        initial[ch] = given
        hazard = np.where(given, OPT_OUT_PER_YEAR, OPT_IN_PER_YEAR)
        flips = rng.random(n) < 1 - np.exp(-hazard * tenure)
        when = signup + (rng.random(n) * (tb.t_end - signup)).astype(np.int64)
        out[f"{ch}_initial"] = pa.array(np.where(given, "T", "F"), pa.string())
        out[f"{ch}_changed_at"] = ts_array(np.where(flips, when, NULL_TS))
    two_years = int(730.5 * DAY)
    due = signup + two_years < tb.t_end
    reconfirm = due & (rng.random(n) < RECONSENT_SHARE)
    when = signup + two_years - rng.integers(0, 30, n) * DAY
    out["reconsent_date"] = ts_array(np.where(reconfirm, when, NULL_TS))
    return out
