"""The weekly fresh-food plan (``신선식품 정기배송``): 4/8/12 weekly deliveries, cancellations and auto-renewal chains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from testbed.shop.blocks import BlockRng
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
    """One row per plan (renewals are new rows) of one chunk's members, ordered by member, then start."""

    member: np.ndarray  # chunk-local member index
    product_no: np.ndarray
    total: np.ndarray
    auto_renewal: np.ndarray
    start: np.ndarray
    cancel: np.ndarray  # NULL_TS when not cancelled
    renewal: np.ndarray  # 0 for a member's first plan, k for its k-th renewal

    def __len__(self) -> int:
        return len(self.member)


def make_subscriptions(rngs: BlockRng, members: Members, tb: Timebase) -> Subscriptions:
    """Picks ~5 % of members (buy-prone ones more often) and plays their plans forward to ``t_end``.

    Each member subscribes with probability ``5 % · e^{0.8·z_buy} / E[e^{0.8·z_buy}]`` (``E = e^{0.32}`` for a
    standard normal), so the share is 5 % in expectation whatever the chunk, and buy-prone members weigh more.
    """
    n = members.n
    weights = np.exp(0.8 * members.z_buy) / np.exp(0.32)
    who = np.flatnonzero(rngs.over(members.blk).random(n) < np.minimum(SUBSCRIBER_SHARE * weights, 1.0))
    rng = rngs.over(members.blk[who])
    prod_idx = rng.integers(0, len(SUBSCRIPTION_PRODUCT_NOS), len(who))
    launch_days = np.array([_launch(p) for p in SUBSCRIPTION_PRODUCT_NOS])[prod_idx]
    launch = tb.t_end - launch_days * DAY
    lo = np.maximum(members.signup[who], launch)
    hi = np.minimum(members.active_end[who], tb.t_end)
    ok = hi > lo + DAY
    who, prod_idx, lo, hi = who[ok], prod_idx[ok], lo[ok], hi[ok]
    start = lo + (rngs.over(members.blk[who]).random(len(who)) * (hi - lo)).astype(np.int64)

    rows: list[dict[str, np.ndarray]] = []
    member, product = who, np.array(SUBSCRIPTION_PRODUCT_NOS)[prod_idx]
    total = np.zeros(0, np.int64)
    auto_p = np.full(len(who), AUTO_RENEWAL_SHARE)
    renewal = 0
    while len(member):
        m = len(member)
        rng = rngs.over(members.blk[member])  # renewing members stay in member (so block) order
        if renewal == 0:
            total = rng.choice(PLAN_SIZES, m, p=PLAN_WEIGHTS)
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
                "renewal": np.full(m, renewal),
            }
        )
        end = start + total * WEEK
        renew = auto & ~cancelled & (end < tb.t_end) & (end < members.active_end[member])
        member, product, total, start = member[renew], product[renew], total[renew], end[renew]
        auto_p = np.full(len(member), KEEP_RENEWING)
        renewal += 1
    if not rows:
        empty = np.zeros(0, np.int64)
        return Subscriptions(empty, empty, empty, np.zeros(0, bool), empty, empty, empty)
    cat = {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}
    order = np.lexsort((cat["start"], cat["member"]))
    return Subscriptions(**{key: v[order] for key, v in cat.items()})


def _launch(product_no: int) -> int:
    return next(p.launch_days_before_end for p in PRODUCTS if p.product_no == product_no)


# A plan's key in the chunk files: (shop-wide member number, renewal). The final pass numbers plans by start time
# (``subscription_id``) and resolves ``previous_subscription_id`` through these keys (see generator._finalize).
RENEWAL_KEY_SPAN = (
    1024  # more plans than a member can chain: each lasts at least 4 weeks, the history is 3 years
)


def subscriptions_table(subs: Subscriptions, members: Members, order_ids: pa.Array) -> pa.Table:
    """One chunk of the ``subscriptions`` table: eventual state, delivery dates and cancel date (lifecycle), paying order.

    Deliveries of plans still running at ``t_end`` lie after it (they are scheduled); the store's
    ``subscriptions_asof`` macro derives the state at any instant from these columns. ``subscription_id`` and
    ``previous_subscription_id`` are left null here; ``_key`` / ``_prev_key`` let the final pass fill them in.
    """
    t_end = np.iinfo(np.int64).max
    n = len(subs)
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
    key = (members.first + subs.member).astype(np.int64) * RENEWAL_KEY_SPAN + subs.renewal
    return pa.table(
        {
            "subscription_id": pa.nulls(n, pa.string()),
            "member_id": pc.take(members.member_id, pa.array(subs.member, pa.int64())),
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
            "previous_subscription_id": pa.nulls(n, pa.string()),
            "order_id": order_ids,
            "_key": pa.array(key, pa.int64()),
            "_prev_key": pa.array(np.where(subs.renewal > 0, key - 1, 0), pa.int64(), mask=subs.renewal == 0),
        }
    )
