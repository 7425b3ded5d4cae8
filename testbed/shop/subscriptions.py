"""The weekly fresh-food plan (``신선식품 정기배송``): 4/8/12 weekly deliveries, cancellations and auto-renewal chains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from testbed.shop.catalog import PRODUCTS, SUBSCRIPTION_PRODUCT_NOS
from testbed.shop.members import Members
from testbed.shop.timebase import DAY, NULL_TS, Timebase, ts_array

SUBSCRIBER_SHARE = 0.05
PLAN_SIZES = np.array([4, 8, 12])
PLAN_WEIGHTS = np.array([0.5, 0.3, 0.2])
AUTO_RENEWAL_SHARE = 0.55
KEEP_RENEWING = 0.85  # chance a renewed plan keeps auto-renewal on
CANCEL_SHARE = 0.10
WEEK = 7 * DAY


@dataclass
class Subscriptions:
    """One row per plan (renewals are new rows), ordered by creation time."""

    member: np.ndarray
    product_no: np.ndarray
    total: np.ndarray
    auto_renewal: np.ndarray
    start: np.ndarray
    cancel: np.ndarray  # NULL_TS when not cancelled
    previous: np.ndarray  # index of the plan this one renewed, -1 for a first plan

    def __len__(self) -> int:
        return len(self.member)


def make_subscriptions(rng: np.random.Generator, members: Members, tb: Timebase) -> Subscriptions:
    """Picks ~5 % of members (buy-prone ones more often) and plays their plans forward to ``t_end``."""
    n = members.n
    k = int(round(SUBSCRIBER_SHARE * n))
    weights = np.exp(0.8 * members.z_buy)
    who = rng.choice(n, k, replace=False, p=weights / weights.sum()) if k else np.zeros(0, np.int64)
    prod_idx = rng.integers(0, len(SUBSCRIPTION_PRODUCT_NOS), k)
    launch_days = np.array([_launch(p) for p in SUBSCRIPTION_PRODUCT_NOS])[prod_idx]
    launch = tb.t_end - launch_days * DAY
    lo = np.maximum(members.signup[who], launch)
    hi = np.minimum(members.active_end[who], tb.t_end)
    ok = hi > lo + DAY
    who, prod_idx, lo, hi = who[ok], prod_idx[ok], lo[ok], hi[ok]
    start = lo + (rng.random(len(who)) * (hi - lo)).astype(np.int64)

    rows: list[dict[str, np.ndarray]] = []
    offset = 0
    member, product, prev = who, np.array(SUBSCRIPTION_PRODUCT_NOS)[prod_idx], np.full(len(who), -1)
    auto_p = np.full(len(who), AUTO_RENEWAL_SHARE)
    while len(member):
        m = len(member)
        total = (
            rng.choice(PLAN_SIZES, m, p=PLAN_WEIGHTS)
            if offset == 0
            else rows[-1]["total"][prev - rows[-1]["_off"][0]]
        )
        auto = rng.random(m) < auto_p
        cancel_k = rng.integers(1, total)  # deliveries made before a cancellation
        cancelled = rng.random(m) < CANCEL_SHARE
        cancel = np.where(cancelled, start + (cancel_k - 1) * WEEK + rng.integers(1, 6, m) * DAY, NULL_TS)
        rows.append(
            {
                "member": member,
                "product_no": product,
                "total": total,
                "auto_renewal": auto,
                "start": start,
                "cancel": cancel,
                "previous": prev,
                "_off": np.full(m, offset),
            }
        )
        end = start + total * WEEK
        renew = auto & ~cancelled & (end < tb.t_end) & (end < members.active_end[member])
        ids = offset + np.arange(m)
        offset += m
        member, product, prev, start = member[renew], product[renew], ids[renew], end[renew]
        auto_p = np.full(len(member), KEEP_RENEWING)
    if not rows:
        empty = np.zeros(0, np.int64)
        return Subscriptions(empty, empty, empty, np.zeros(0, bool), empty, empty, empty)
    cat = {key: np.concatenate([r[key] for r in rows]) for key in rows[0] if key != "_off"}
    order = np.argsort(cat["start"], kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    prev_sorted = cat["previous"][order]
    cat["previous"] = np.where(prev_sorted >= 0, inverse[np.maximum(prev_sorted, 0)], -1)
    for key in ("member", "product_no", "total", "auto_renewal", "start", "cancel"):
        cat[key] = cat[key][order]
    return Subscriptions(**cat)


def _launch(product_no: int) -> int:
    return next(p.launch_days_before_end for p in PRODUCTS if p.product_no == product_no)


def subscriptions_table(subs: Subscriptions, members: Members, order_ids: pa.Array) -> pa.Table:
    """The ``subscriptions`` Parquet table: eventual state, delivery dates and cancel date (lifecycle), paying order.

    Deliveries of plans still running at ``t_end`` lie after it (they are scheduled); the store's
    ``subscriptions_asof`` macro derives the state at any instant from these columns.
    """
    t_end = np.iinfo(np.int64).max
    n = len(subs)
    ids = pc.binary_join_element_wise(
        "SUB", pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), 8, "0"), ""
    )
    end = subs.start + subs.total * WEEK
    # weekly deliveries up to the plan size, none on/after a cancellation
    k = np.arange(int(subs.total.max()) if n else 0)
    grid = subs.start[:, None] + k[None, :] * WEEK
    valid = k[None, :] < subs.total[:, None]
    valid &= (subs.cancel[:, None] == NULL_TS) | (grid < subs.cancel[:, None])
    counts = valid.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    deliveries = pa.ListArray.from_arrays(pa.array(offsets), ts_array(grid[valid]))
    is_cancelled = (subs.cancel != NULL_TS) & (subs.cancel < t_end)
    state = np.where(is_cancelled, "cancelled", np.where(end < t_end, "expired", "active"))
    delivered = np.where(valid & (grid < t_end), grid, subs.start[:, None])
    updated = np.maximum(delivered.max(axis=1) if n else subs.start, np.where(is_cancelled, subs.cancel, 0))
    updated = np.maximum(updated, np.where(end < t_end, end, 0))
    prev_id = pc.take(ids, pa.array(np.maximum(subs.previous, 0))) if n else ids
    prev_id = pc.if_else(pa.array(subs.previous >= 0), prev_id, pa.nulls(n, pa.string()))
    return pa.table(
        {
            "subscription_id": ids,
            "member_id": pc.take(members.member_id, pa.array(subs.member)),
            "product_no": pa.array(subs.product_no, pa.int64()),
            "subscription_state": pa.array(state, pa.string()),
            "delivery_cycle": pa.array(["1W"] * n, pa.string()),
            "total_delivery_count": pa.array(subs.total, pa.int64()),
            "used_delivery_count": pa.array((valid & (grid < t_end)).sum(axis=1), pa.int64()),
            "auto_renewal": pa.array(np.where(subs.auto_renewal, "T", "F"), pa.string()),
            "start_date": ts_array(subs.start),
            "end_date": ts_array(end),
            "created_date": ts_array(subs.start),
            "updated_date": ts_array(updated),
            "cancel_date": ts_array(subs.cancel),
            "delivery_dates": deliveries,
            "previous_subscription_id": prev_id,
            "order_id": order_ids,
        }
    )
