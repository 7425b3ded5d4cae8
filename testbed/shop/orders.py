"""Orders, order items and reviews: heavy-tailed purchase frequency, guests, payments, shipping, cancels, refunds.

Member *i* buys at all with probability ``sigmoid(0.9 + 1.2·z_buy)``; a buyer's first order follows sign-up
(within days for most, thanks to the welcome coupon), further orders form a Poisson process with a lognormal rate
``3/yr · exp(1.2·z_buy)`` (capped at 36/yr) until the member churns. That gives many 1–2× buyers and a real tail of 10+× buyers.
Guests (no member id) place ~15 % of orders; some order again with the same phone. Orders are made a chunk of
members at a time; each block of members brings its own guests (~15 % of the block's orders), and order ids are
numbered per KST day in (block, time) order with counters carried from chunk to chunk (:class:`OrderNumbers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from testbed.shop.blocks import BlockRng
from testbed.shop.catalog import (
    CHANNEL_WEIGHTS,
    CHANNELS,
    FREE_SHIPPING_THRESHOLD,
    HERO_PRODUCT_NOS,
    LEGACY_CAMPAIGNS,
    PAYMENT_METHODS,
    PAYMENT_WEIGHTS,
    PLATFORM_WEIGHTS,
    PRODUCTS,
    SHIPPING_FEE,
)
from testbed.shop.members import Members
from testbed.shop.subscriptions import Subscriptions
from testbed.shop.timebase import DAY, NULL_TS, Timebase, diurnal, kst_day, ts_array

YEAR = 365.25 * DAY
GUEST_ORDER_SHARE = 0.15
GUEST_REPEAT_SHARE = 0.18
CANCEL_AFTER_PAYMENT = 0.035
VA_NEVER_PAID = 0.08
REFUND_SHARE = 0.03
PARTIAL_REFUND_SHARE = 0.5
CONFIRM_AFTER = 7 * DAY
MAX_ORDERS_PER_YEAR = 36.0  # the keenest buyers order about every ten days


class Catalog:
    """Catalogue as numpy arrays indexed by product position."""

    def __init__(self, tb: Timebase) -> None:
        self.no = np.array([p.product_no for p in PRODUCTS])
        self.price = np.array([p.price for p in PRODUCTS])
        self.weight = np.array([p.weight for p in PRODUCTS])
        self.created = tb.t_end - np.array([p.launch_days_before_end for p in PRODUCTS]) * DAY
        disc = [p.discontinued_days_before_end for p in PRODUCTS]
        self.discontinued = np.array([tb.t_end - d * DAY if d else NULL_TS for d in disc])
        self.price_change = np.array(
            [tb.t_end - p.price_change[0] * DAY if p.price_change else NULL_TS for p in PRODUCTS]
        )
        self.price_before = np.array([p.price_change[1] if p.price_change else p.price for p in PRODUCTS])
        self.name = pa.array([p.name for p in PRODUCTS], pa.string())
        self.category = pa.array([p.category_name for p in PRODUCTS], pa.string())
        self.pos = {int(no): i for i, no in enumerate(self.no)}

    def price_at(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        ch = self.price_change[idx]
        return np.where((ch != NULL_TS) & (t < ch), self.price_before[idx], self.price[idx])

    def available(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        d = self.discontinued[idx]
        return (self.created[idx] <= t) & ((d == NULL_TS) | (t < d))


@dataclass
class Guests:
    """One chunk's guests: shop-wide numbers ``first .. first + n - 1``, each attached to a block of the chunk."""

    first: int
    blk: np.ndarray

    @property
    def n(self) -> int:
        return len(self.blk)


class OrderNumbers:
    """The next order number of every KST day of the history, carried from chunk to chunk.

    Ids are ``YYYYMMDD-NNNNNNN``: within a day, the orders of block 0 in time order, then those of block 1, …; so
    the id of an order does not depend on the chunk size (an id orders time within a block, not across blocks).
    """

    def __init__(self, tb: Timebase) -> None:
        self.day0 = int(kst_day(np.array([tb.history_start]))[0])
        self.used = np.zeros(int(kst_day(np.array([tb.t_end - 1]))[0]) - self.day0 + 1, np.int64)

    def assign(self, t: np.ndarray) -> pa.Array:
        """Ids for a chunk's orders given in (block, time) order."""
        n = len(t)
        day = kst_day(t) - self.day0
        by_day = np.argsort(day, kind="stable")
        counts = np.bincount(day, minlength=len(self.used))
        starts = np.cumsum(counts) - counts
        seq = np.empty(n, np.int64)
        seq[by_day] = np.arange(n) - starts[day[by_day]] + self.used[day[by_day]]
        self.used += counts
        datestr = pc.strftime(ts_array(t), "%Y%m%d")
        return pc.binary_join_element_wise(
            datestr, pc.utf8_lpad(pa.array(seq + 1).cast(pa.string()), 7, "0"), "-"
        )


@dataclass
class Orders:
    """A chunk's orders in (block, time) order, with their items (``item_off[i]:item_off[i+1]``) and lifecycle."""

    t: np.ndarray
    blk: np.ndarray  # block of the member or guest who ordered
    member: np.ndarray  # chunk-local member index, -1 for guests
    guest: np.ndarray  # chunk-local guest index, -1 for members
    sub: np.ndarray  # subscription index paid by this order, else -1
    platform: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray  # legacy campaign index when channel is messaging, else -1
    item_off: np.ndarray
    item_product: np.ndarray  # product position in Catalog
    item_qty: np.ndarray
    item_price: np.ndarray
    item_refund: np.ndarray
    pay: np.ndarray
    cancel: np.ndarray
    shipbegin: np.ndarray
    shipend: np.ndarray
    confirm: np.ndarray
    refund: np.ndarray
    refund_amount: np.ndarray
    order_id: pa.Array

    def __len__(self) -> int:
        return len(self.t)


def _member_order_times(rngs: BlockRng, m: Members, tb: Timebase) -> tuple[np.ndarray, np.ndarray]:
    n = m.n
    rng = rngs.over(m.blk)
    buyer = rng.random(n) < 1 / (1 + np.exp(-(0.9 + 1.2 * m.z_buy)))
    delay = np.where(rng.random(n) < 0.6, rng.exponential(4.0, n), rng.exponential(60.0, n))
    first = m.signup + 600 + (delay * DAY).astype(np.int64)
    stop = np.minimum(m.active_end, tb.t_end)
    has_first = buyer & (first < stop)
    rate = np.minimum(3.0 * np.exp(1.2 * m.z_buy), MAX_ORDERS_PER_YEAR)
    span = np.where(has_first, (stop - first) / YEAR, 0.0)
    counts = has_first.astype(np.int64) + rng.poisson(rate * span)
    owner = np.repeat(np.arange(n), counts)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    f, s = first[owner], stop[owner]
    rng = rngs.over(m.blk[owner])
    t = f + (rng.random(len(owner)) * (s - f)).astype(np.int64)
    t = np.clip(diurnal(rng, t), f, tb.t_end - 1)
    return owner, np.where(rank == 0, f, t)


def _guest_order_times(
    rngs: BlockRng, member_orders_per_block: np.ndarray, tb: Timebase
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guests of each block (~15 % of the block's orders) and their orders: (guest of each order, times, guest blocks)."""
    share = GUEST_ORDER_SHARE / (1 - GUEST_ORDER_SHARE)
    n_orders = np.rint(member_orders_per_block * share).astype(np.int64)
    oblk = np.repeat(np.arange(len(n_orders)), n_orders)
    rng = rngs.over(oblk)
    k = len(oblk)
    extra = np.where(rng.random(k) < GUEST_REPEAT_SHARE, rng.geometric(0.45, k), 0)
    # per block: as many guests as make its order count with 1 + extra orders each
    mean = 1 + np.bincount(oblk, weights=extra, minlength=len(n_orders)) / np.maximum(n_orders, 1)
    n_guests = np.where(n_orders > 0, np.maximum(1, (n_orders / mean).astype(np.int64)), 0)
    rank = np.arange(k) - np.repeat(np.cumsum(n_orders) - n_orders, n_orders)
    is_guest = rank < n_guests[oblk]
    counts, gblk = 1 + extra[is_guest], oblk[is_guest]
    g = len(gblk)
    owner = np.repeat(np.arange(g), counts)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    u = np.sqrt(rngs.over(gblk).random(g))
    first = tb.history_start + (u * (tb.t_end - tb.history_start)).astype(np.int64)
    gap = rngs.over(gblk[owner]).exponential(90.0, len(owner))
    t = first[owner] + np.where(rank == 0, 0, gap * DAY).astype(np.int64)
    keep = t < tb.t_end
    owner, t = owner[keep], t[keep]
    return owner, np.clip(diurnal(rngs.over(gblk[owner]), t), tb.history_start, tb.t_end - 1), gblk


def make_orders(
    rngs: BlockRng,
    m: Members,
    subs: Subscriptions,
    cat: Catalog,
    tb: Timebase,
    numbers: OrderNumbers,
    first_guest: int,
) -> tuple[Orders, Guests]:
    """Draws every order of the chunk's history (members, their blocks' guests, subscription payments)."""
    mem_owner, mem_t = _member_order_times(rngs, m, tb)
    per_block = np.bincount(m.blk[mem_owner], minlength=rngs.n_blocks)
    guest_owner, guest_t, guest_blk = _guest_order_times(rngs, per_block, tb)
    guests = Guests(first=first_guest, blk=guest_blk)

    t = np.concatenate([mem_t, guest_t, subs.start])
    member = np.concatenate([mem_owner, np.full(len(guest_t), -1), subs.member])
    guest = np.concatenate([np.full(len(mem_t), -1), guest_owner, np.full(len(subs), -1)])
    sub = np.concatenate([np.full(len(mem_t) + len(guest_t), -1), np.arange(len(subs))])
    blk = np.concatenate([m.blk[mem_owner], guest_blk[guest_owner], m.blk[subs.member]])
    order = np.lexsort((sub, guest, member, t, blk))
    t, member, guest, sub, blk = t[order], member[order], guest[order], sub[order], blk[order]
    n = len(t)
    order_id = numbers.assign(t)

    rng = rngs.over(blk)
    is_member = member >= 0
    platform = np.where(
        is_member & (rng.random(n) < 0.8),
        m.platform[np.maximum(member, 0)],
        rng.choice(3, n, p=PLATFORM_WEIGHTS),
    )
    channel = rng.choice(len(CHANNELS), n, p=np.array(CHANNEL_WEIGHTS) / sum(CHANNEL_WEIGHTS))
    channel = np.where(
        ~is_member & (channel == CHANNELS.index("messaging")), CHANNELS.index("direct"), channel
    )
    campaign = np.where(channel == CHANNELS.index("messaging"), rng.integers(0, len(LEGACY_CAMPAIGNS), n), -1)

    item_off, item_product, item_qty = _items(rngs, cat, m, t, blk, member, sub, subs)
    item_price = cat.price_at(item_product, np.repeat(t, np.diff(item_off)))
    o = Orders(
        t=t, blk=blk, member=member, guest=guest, sub=sub, platform=platform, channel=channel, campaign=campaign,
        item_off=item_off, item_product=item_product, item_qty=item_qty, item_price=item_price,
        item_refund=np.full(len(item_product), NULL_TS),
        pay=t.copy(), cancel=np.full(n, NULL_TS), shipbegin=np.full(n, NULL_TS), shipend=np.full(n, NULL_TS),
        confirm=np.full(n, NULL_TS), refund=np.full(n, NULL_TS), refund_amount=np.zeros(n, np.int64),
        order_id=order_id,
    )  # fmt: skip
    return o, guests


def _items(
    rngs: BlockRng,
    cat: Catalog,
    m: Members,
    t: np.ndarray,
    blk: np.ndarray,
    member: np.ndarray,
    sub: np.ndarray,
    subs: Subscriptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(t)
    is_sub = sub >= 0
    n_items = np.where(is_sub, 1, 1 + np.minimum(rngs.over(blk).poisson(0.55, n), 4))
    owner = np.repeat(np.arange(n), n_items)
    k = len(owner)
    rng = rngs.over(blk[owner])
    w = cat.weight / cat.weight.sum()
    pick = rng.choice(len(w), k, p=w)
    fav = rngs.over(m.blk).choice(len(w), m.n, p=w)  # each member's go-to product
    mem = member[owner]
    pick = np.where((mem >= 0) & (rng.random(k) < 0.35), fav[np.maximum(mem, 0)], pick)
    hero = cat.pos[HERO_PRODUCT_NOS[0]]
    pick = np.where(cat.available(pick, t[owner]), pick, hero)
    sub_idx = sub[owner]
    pick = np.where(
        sub_idx >= 0, np.vectorize(cat.pos.get, otypes=[np.int64])(subs.product_no[sub_idx]), pick
    )
    qty = np.where(sub_idx >= 0, subs.total[sub_idx], rng.choice([1, 2, 3], k, p=[0.75, 0.18, 0.07]))
    # one line per (order, product): duplicates picked twice become a larger quantity
    key = owner.astype(np.int64) * 256 + pick
    uniq, first_pos, inverse = np.unique(key, return_index=True, return_inverse=True)
    qty_sum = np.bincount(inverse, weights=qty).astype(np.int64)
    owner_u = uniq // 256
    counts = np.bincount(owner_u, minlength=n)
    item_off = np.concatenate([[0], np.cumsum(counts)])
    return item_off, (uniq % 256).astype(np.int64), qty_sum


def price_orders(rngs: BlockRng, o: Orders) -> dict[str, np.ndarray]:
    """Order amounts: items, coupons (welcome coupon on first orders), shipping fee rule, payment."""
    n = len(o)
    rng = rngs.over(o.blk)
    line = o.item_price * o.item_qty
    items_total = np.add.reduceat(line, o.item_off[:-1]) if n else np.zeros(0, np.int64)
    first = _first_order(o)
    coupon = np.full(n, -1)
    u = rng.random(n)
    coupon = np.where(first & (o.member >= 0) & (u < 0.55), 0, coupon)  # WELCOME5000
    other = (coupon < 0) & (rng.random(n) < 0.18)
    coupon = np.where(other, rng.integers(1, 5, n), coupon)
    discount = np.select(
        [
            (coupon == 0) & (items_total >= 15_000),
            coupon == 1,
            (coupon == 2) & (items_total >= 20_000),
            (coupon == 3) & (items_total >= 40_000),
            coupon == 4,
        ],
        [
            5_000,
            np.minimum(items_total // 10 // 10 * 10, 10_000),
            3_000,
            5_000,
            np.minimum(items_total // 5, 4_000),
        ],
        0,
    )
    is_sub = o.sub >= 0
    discount = np.where(is_sub, 0, discount)
    coupon = np.where(discount > 0, coupon, -1)
    shipping = np.where(is_sub | (items_total < FREE_SHIPPING_THRESHOLD), SHIPPING_FEE, 0)
    payment = items_total + shipping - discount
    method = np.where(is_sub, 0, rng.choice(len(PAYMENT_METHODS), n, p=PAYMENT_WEIGHTS))
    return {
        "items_total": items_total,
        "discount": discount,
        "coupon": coupon,
        "shipping": shipping,
        "payment": payment,
        "method": method,
        "first": first,
    }


def _first_order(o: Orders) -> np.ndarray:
    """True for each customer's (member or guest phone) first order; a customer's orders are sorted by time."""
    key = np.where(o.member >= 0, o.member, -(o.guest + 1))
    _, idx = np.unique(key, return_index=True)
    first = np.zeros(len(o), bool)
    first[idx] = True
    return first


def lifecycle(rngs: BlockRng, o: Orders, money: dict[str, np.ndarray]) -> None:
    """Fills payment, shipping, delivery, confirmation, cancel and refund times (may lie after end_date)."""
    n = len(o)
    rng = rngs.over(o.blk)
    va = money["method"] == PAYMENT_METHODS.index("virtual_account")
    never = va & (rng.random(n) < VA_NEVER_PAID)
    late = (rng.uniform(0.02, 2.0, n) * DAY).astype(np.int64)
    o.pay = np.where(va, o.t + late, o.t)
    o.pay = np.where(never, NULL_TS, o.pay)
    o.cancel = np.where(never, o.t + 3 * DAY, NULL_TS)
    ship_gap = (rng.uniform(0.4, 2.0, n) * DAY).astype(np.int64)
    cancels = ~never & (o.sub < 0) & (rng.random(n) < CANCEL_AFTER_PAYMENT)
    o.cancel = np.where(cancels, o.pay + (ship_gap * rng.uniform(0.1, 0.9, n)).astype(np.int64), o.cancel)
    shipped = ~never & ~cancels
    o.shipbegin = np.where(shipped, o.pay + ship_gap, NULL_TS)
    o.shipend = np.where(shipped, o.shipbegin + (rng.uniform(0.7, 3.0, n) * DAY).astype(np.int64), NULL_TS)
    refunded = shipped & (o.sub < 0) & (rng.random(n) < REFUND_SHARE)
    o.refund = np.where(refunded, o.shipend + (rng.uniform(1.0, 6.5, n) * DAY).astype(np.int64), NULL_TS)
    o.confirm = np.where(shipped & ~refunded, o.shipend + CONFIRM_AFTER, NULL_TS)
    n_items = np.diff(o.item_off)
    partial = refunded & (n_items >= 2) & (rng.random(n) < PARTIAL_REFUND_SHARE)
    last_item = o.item_off[1:] - 1
    line = o.item_price * o.item_qty
    o.refund_amount = np.where(
        partial, line[np.maximum(last_item, 0)], np.where(refunded, money["payment"], 0)
    )
    owner = np.repeat(np.arange(n), n_items)
    item_refunded = refunded[owner] & (~partial[owner] | (np.arange(len(owner)) == last_item[owner]))
    o.item_refund = np.where(item_refunded, o.refund[owner], NULL_TS)


def status_codes(cancel, refund, confirm, shipend, shipbegin, pay, at: int) -> np.ndarray:
    """Cafe24 order status at instant ``at`` from lifecycle times (the same rule as the store's SQL)."""

    def by(x):
        return (x != NULL_TS) & (x <= at)

    return np.select(
        [by(cancel), by(refund), by(confirm), by(shipend), by(shipbegin), by(pay)],
        ["C40", "R40", "N50", "N40", "N30", "N10"],
        "N00",
    )
