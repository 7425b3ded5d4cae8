"""Arrow tables of the store: products, customers, orders, order items, reviews (columns documented in docs/shop_generator.md).

Contract columns (docs/data_model.md ``raw_cafe24``) hold each record's *eventual* state, i.e. after every lifecycle step
the generator scheduled (some lie after ``end_date``: a virtual account paid tomorrow, a parcel delivered next week).
Lifecycle columns keep every timestamp so :mod:`testbed.shop.store` can derive the state as of any instant. The
generator builds them one chunk of members at a time; ids numbered across the whole shop (``article_no``) are set in
its final pass.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from testbed.shop import people
from testbed.shop.blocks import BlockRng
from testbed.shop.catalog import COUPON_CODES, HERO_PRODUCT_NOS, LEGACY_CAMPAIGNS, PAYMENT_METHODS, PRODUCTS
from testbed.shop.members import CONSENT_CHANNELS, Members
from testbed.shop.orders import Catalog, Guests, Orders, status_codes
from testbed.shop.timebase import DAY, NULL_TS, Timebase, ts_array

_MAX = np.iinfo(np.int64).max


def products_table(cat: Catalog) -> pa.Table:
    """Catalogue with launch, price-change and discontinuation times."""
    disc = cat.discontinued != NULL_TS
    changed = cat.price_change != NULL_TS
    updated = np.maximum(
        cat.created, np.maximum(np.where(changed, cat.price_change, 0), np.where(disc, cat.discontinued, 0))
    )
    return pa.table(
        {
            "product_no": pa.array(cat.no, pa.int64()),
            "product_code": pa.array([p.product_code for p in PRODUCTS], pa.string()),
            "product_name": cat.name,
            "category_no": pa.array([p.category_no for p in PRODUCTS], pa.int64()),
            "category_name": cat.category,
            "price": pa.array(cat.price, pa.int64()),
            "display": pa.array(np.where(disc, "F", "T"), pa.string()),
            "selling": pa.array(np.where(disc, "F", "T"), pa.string()),
            "created_date": ts_array(cat.created),
            "updated_date": ts_array(updated),
            "price_before": pa.array(cat.price_before, pa.int64()),
            "price_changed_at": ts_array(cat.price_change),
            "discontinued_at": ts_array(cat.discontinued),
            "is_hero": pa.array([p.product_no in HERO_PRODUCT_NOS for p in PRODUCTS]),
        }
    )


def customers_table(m: Members, login_owner: np.ndarray, login_t: np.ndarray) -> pa.Table:
    """Members with eventual consent state, consent lifecycle columns and every login instant (``login_dates``)."""
    t = m.table
    signup = m.signup
    order = np.lexsort((login_t, login_owner))
    login_owner, login_t = login_owner[order], login_t[order]
    counts = np.bincount(login_owner, minlength=m.n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    logins = pa.ListArray.from_arrays(pa.array(offsets), ts_array(login_t))
    last_login = np.maximum(signup, np.where(counts > 0, _seg_max(login_t, offsets), signup))
    recon = _np_ts(t["reconsent_date"])
    updated = np.maximum(signup, last_login)
    updated = np.maximum(updated, np.where(recon != NULL_TS, recon, 0))
    cols = {
        name: t[name]
        for name in ("member_id", "name", "cellphone", "email", "gender", "birthday", "address1")
    }
    cols["created_date"] = t["created_date"]
    consent_cols: dict[str, pa.Array] = {}
    for ch in CONSENT_CHANNELS:
        init = np.asarray(t[f"{ch}_initial"]) == "T"
        changed = _np_ts(t[f"{ch}_changed_at"])
        value = np.where(changed != NULL_TS, ~init, init)
        date = np.maximum(signup, np.where(changed != NULL_TS, changed, 0))
        date = np.where(value & (recon != NULL_TS), np.maximum(date, recon), date)
        updated = np.maximum(updated, np.where(changed != NULL_TS, changed, 0))
        flag = "sms" if ch == "sms" else "news_mail" if ch == "news_mail" else f"{ch}_consent"
        consent_cols[flag] = pa.array(np.where(value, "T", "F"), pa.string())
        consent_cols[f"{ch}_consent_date"] = ts_array(date)
    cols["updated_date"] = ts_array(updated)
    cols["last_login_date"] = ts_array(last_login)
    for name in ("sms", "news_mail"):
        cols[name] = consent_cols[name]
    for ch in ("sms", "news_mail"):
        cols[f"{ch}_consent_date"] = consent_cols[f"{ch}_consent_date"]
    for ch in ("kakao", "push", "night"):
        cols[f"{ch}_consent"] = consent_cols[f"{ch}_consent"]
    for ch in ("kakao", "push", "night"):
        cols[f"{ch}_consent_date"] = consent_cols[f"{ch}_consent_date"]
    for ch in CONSENT_CHANNELS:
        cols[f"{ch}_initial"] = t[f"{ch}_initial"]
        cols[f"{ch}_changed_at"] = t[f"{ch}_changed_at"]
    cols["reconsent_date"] = t["reconsent_date"]
    cols["login_dates"] = logins
    return pa.table(cols)


def _np_ts(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    ints = pc.cast(arr, pa.int64())
    return np.asarray(pc.fill_null(ints, NULL_TS))


def _seg_max(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    counts = np.diff(offsets)
    out = np.full(len(counts), NULL_TS)
    nz = counts > 0
    out[nz] = np.maximum.reduceat(values, offsets[:-1][nz]) if len(values) else out[nz]
    return out


def orders_table(
    rngs: BlockRng,
    o: Orders,
    m: Members,
    money: dict[str, np.ndarray],
    guests: Guests,
    pools: people.Pools,
    total_members: int,
) -> pa.Table:
    """Orders with buyer data (members from their profile, guests from their own name/phone/e-mail).

    Guest ``g`` of the shop is number ``total_members + 1 + g`` for phones and e-mails, after the members' numbers,
    so both stay unique across members and guests.
    """
    n = len(o)
    n_guests = guests.n
    is_member = o.member >= 0
    midx = pa.array(np.maximum(o.member, 0))
    number = total_members + 1 + guests.first + np.arange(n_guests)
    rng = rngs.over(guests.blk)
    g_name = people.names(rng, pools, n_guests)
    g_phone = people.phones(rng, number)
    g_mail = people.emails(rng, pools, number)
    g_mail = pc.if_else(pa.array(rng.random(n_guests) < 0.7), g_mail, pa.nulls(n_guests, pa.string()))
    gidx = pa.array(np.maximum(o.guest, 0))
    mask = pa.array(is_member)

    def buyer(member_arr: pa.Array, guest_arr: pa.Array) -> pa.Array:
        if n_guests == 0:
            return pc.take(member_arr, midx)
        return pc.if_else(mask, pc.take(member_arr, midx), pc.take(guest_arr, gidx))

    status = status_codes(o.cancel, o.refund, o.confirm, o.shipend, o.shipbegin, o.pay, _MAX)
    updated = np.max(np.stack([np.where(x == NULL_TS, 0, x) for x in _life(o)] + [o.t]), axis=0)
    coupon = money["coupon"]
    codes = np.array(COUPON_CODES + ("",), dtype=object)[np.where(coupon < 0, len(COUPON_CODES), coupon)]
    campaign = np.array(LEGACY_CAMPAIGNS + ("",), dtype=object)[
        np.where(o.campaign < 0, len(LEGACY_CAMPAIGNS), o.campaign)
    ]
    return pa.table(
        {
            "order_id": o.order_id,
            "member_id": pc.if_else(mask, pc.take(m.member_id, midx), pa.nulls(n, pa.string())),
            "member_authentication": pa.array(np.where(is_member, "T", "F"), pa.string()),
            "buyer_name": buyer(m.name, g_name),
            "buyer_cellphone": buyer(m.cellphone, g_phone),
            "buyer_email": buyer(m.email, g_mail),
            "order_date": ts_array(o.t),
            "payment_date": ts_array(o.pay),
            "currency": pa.array(["KRW"] * n, pa.string()),
            "order_price_amount": pa.array(money["items_total"], pa.int64()),
            "shipping_fee": pa.array(money["shipping"], pa.int64()),
            "coupon_discount_price": pa.array(money["discount"], pa.int64()),
            "payment_amount": pa.array(money["payment"], pa.int64()),
            "order_status": pa.array(status, pa.string()),
            "canceled": pa.array(np.where(o.cancel != NULL_TS, "T", "F"), pa.string()),
            "cancel_date": ts_array(o.cancel),
            "refund_amount": pa.array(o.refund_amount, pa.int64()),
            "refund_date": ts_array(o.refund),
            "shipbegin_date": ts_array(o.shipbegin),
            "shipend_date": ts_array(o.shipend),
            "first_order": pa.array(np.where(money["first"], "T", "F"), pa.string()),
            "order_from_mobile": pa.array(np.where(o.platform > 0, "T", "F"), pa.string()),
            "utm_campaign": pc.if_else(
                pa.array(o.campaign >= 0), pa.array(campaign, pa.string()), pa.nulls(n, pa.string())
            ),
            "updated_date": ts_array(updated),
            "purchaseconfirmation_date": ts_array(o.confirm),
            "payment_method": pa.array(np.array(PAYMENT_METHODS, dtype=object)[money["method"]], pa.string()),
            "coupon_code": pc.if_else(
                pa.array(coupon >= 0), pa.array(codes, pa.string()), pa.nulls(n, pa.string())
            ),
        }
    )


def _life(o: Orders) -> list[np.ndarray]:
    return [o.pay, o.cancel, o.shipbegin, o.shipend, o.confirm, o.refund]


def order_items_table(o: Orders, cat: Catalog) -> pa.Table:
    """One line per (order, product), with the order's lifecycle copied in (so as-of needs no join)."""
    n_items = np.diff(o.item_off)
    owner = np.repeat(np.arange(len(o)), n_items)
    line_no = np.arange(len(owner)) - o.item_off[owner]
    code = pc.binary_join_element_wise(
        pc.take(o.order_id, pa.array(owner)),
        pc.utf8_lpad(pa.array(line_no + 1).cast(pa.string()), 2, "0"),
        "-",
    )
    life = {"pay": o.pay[owner], "cancel": o.cancel[owner], "shipbegin": o.shipbegin[owner]}
    life.update(shipend=o.shipend[owner], confirm=o.confirm[owner])
    status = status_codes(
        life["cancel"], o.item_refund, life["confirm"], life["shipend"], life["shipbegin"], life["pay"], _MAX
    )
    return pa.table(
        {
            "order_item_code": code,
            "order_id": pc.take(o.order_id, pa.array(owner)),
            "product_no": pa.array(cat.no[o.item_product], pa.int64()),
            "product_name": pc.take(cat.name, pa.array(o.item_product)),
            "quantity": pa.array(o.item_qty, pa.int64()),
            "product_price": pa.array(o.item_price, pa.int64()),
            "order_status": pa.array(status, pa.string()),
            "order_date": ts_array(o.t[owner]),
            "payment_date": ts_array(life["pay"]),
            "shipbegin_date": ts_array(life["shipbegin"]),
            "shipend_date": ts_array(life["shipend"]),
            "purchaseconfirmation_date": ts_array(life["confirm"]),
            "cancel_date": ts_array(life["cancel"]),
            "refund_date": ts_array(o.item_refund),
        }
    )


def reviews_table(rngs: BlockRng, o: Orders, m: Members, cat: Catalog, tb: Timebase) -> pa.Table:
    """Product reviews by members 1–14 days after delivery, with a per-member propensity; none after ``end_date``.

    Rows come in item order with a null ``article_no``: the final pass numbers the shop's reviews by creation time.
    """
    n_items = np.diff(o.item_off)
    owner = np.repeat(np.arange(len(o)), n_items)
    mem = o.member[owner]
    delivered = o.shipend[owner]
    ok = (mem >= 0) & (delivered != NULL_TS) & (o.item_refund == NULL_TS) & (o.sub[owner] < 0)
    p = np.where(ok, m.review_propensity[np.maximum(mem, 0)], 0.0)
    rng = rngs.over(o.blk[owner])
    write = rng.random(len(owner)) < p
    created = delivered + ((1 + 13 * rng.beta(1.0, 2.5, len(owner))) * DAY).astype(np.int64)
    write &= created < tb.t_end
    idx = np.flatnonzero(write)
    k = len(idx)
    created = created[idx]
    rng = rngs.over(o.blk[owner[idx]])
    edited = rng.random(k) < 0.05
    updated = np.where(edited, created + rng.integers(1, 30, k) * DAY, created)
    rating = rng.choice([5, 4, 3, 2, 1], k, p=[0.62, 0.23, 0.08, 0.04, 0.03])
    return pa.table(
        {
            "article_no": pa.nulls(k, pa.int64()),
            "board_no": pa.array(np.full(k, 4), pa.int64()),
            "product_no": pa.array(cat.no[o.item_product[idx]], pa.int64()),
            "member_id": pc.take(m.member_id, pa.array(mem[idx])),
            "order_id": pc.take(o.order_id, pa.array(owner[idx])),
            "rating": pa.array(rating, pa.int64()),
            "created_date": ts_array(created),
            "updated_date": ts_array(updated),
        }
    )
