"""Web/app events in Amplitude export shape, written as daily gzipped JSON-lines drops.

Sessions come in four kinds: member browsing (rate from the engagement latent), purchase sessions ending in an
order (member or guest; ~5 % lose their ``purchase`` event), anonymous visitors, and sign-up sessions (anonymous
until the ``sign_up`` event, then carrying the new member id on the same device). Each session expands to events in
a fixed funnel order: session_start → page_view → sign_up → search → coupon_page_view → view_item → add_to_cart →
begin_checkout → purchase. Everything is numpy; properties are looked up from a table of pre-rendered JSON
snippets (only ``purchase`` properties are rendered per row); lines are assembled with Arrow string kernels.
Sessions and events are made one chunk of members at a time (anonymous visitors belong to a block like guests do)
and appended to the day files of :class:`DropWriter`; device ids are hashes of the device's identity, so the same
device gets the same id in whichever chunk it appears.
"""

from __future__ import annotations

import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from testbed.shop.blocks import BlockRng, hashed_bytes16
from testbed.shop.catalog import (
    CHANNELS,
    COUPON_CODES,
    COVIEW_AFFINITY,
    LEGACY_CAMPAIGNS,
    PLATFORMS,
    PRODUCTS,
    REGIONS,
    SEARCH_TERMS,
    UTM_VARIANTS,
)
from testbed.shop.members import Members
from testbed.shop.orders import Catalog, Guests, Orders
from testbed.shop.timebase import DAY, KST_OFFSET, NULL_TS, Timebase, day_to_date, diurnal

EVENT_TYPES = (
    "session_start",
    "page_view",
    "sign_up",
    "search",
    "coupon_page_view",
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "purchase",
)
(SESSION_START, PAGE_VIEW, SIGN_UP, SEARCH, COUPON, VIEW, CART, CHECKOUT, PURCHASE) = range(len(EVENT_TYPES))
BROWSE, BUY, ANON, SIGNUP = range(4)
PRIMARY, SECOND, GUEST, VISITOR = range(
    4
)  # device kinds: a member's first or second device, a guest's, a visitor's
MISSING_PURCHASE_EVENT = 0.05
LATE_EVENT_SHARE = 0.01
BROWSE_RATE_PER_DAY = 0.05  # median member browsing sessions per day while active
CHURNED_RATE_FACTOR = 0.08
ANON_VISITORS_PER_MEMBER = 0.5
MAX_ROWS_PER_FILE = 2_000_000


@dataclass
class Sessions:
    """A chunk's sessions in block order."""

    start: np.ndarray  # epoch microseconds
    blk: np.ndarray
    kind: np.ndarray
    user: np.ndarray  # chunk-local member index or -1
    dev_kind: np.ndarray  # PRIMARY, SECOND, GUEST or VISITOR
    dev_no: np.ndarray  # shop-wide number of the member, guest or visitor owning the device
    platform: np.ndarray
    city: np.ndarray
    variant: np.ndarray  # index into the session_start property table
    order: np.ndarray  # order index for purchase sessions, else -1
    engage: np.ndarray  # multiplier of funnel depth
    visitors: int  # anonymous visitors of the chunk (numbered after those of earlier chunks)


class PropTable:
    """Pre-rendered ``event_properties`` JSON snippets, addressed by integer keys."""

    def __init__(self, cat: Catalog) -> None:
        self.snippets: list[str] = []
        self.variant_base = self._add_variants()
        self.page_base = self._add([{"page_type": "home", "page_path": "/"}, {"page_type": "best", "page_path": "/best"},
                                    {"page_type": "event", "page_path": "/event"}]
                                   + [{"page_type": "category", "page_path": f"/category/{c}"}
                                      for c in sorted({p.category_no for p in PRODUCTS})])  # fmt: skip
        self.n_pages = len(self.snippets) - self.page_base
        self.signup_base = self._add([{"method": m} for m in ("kakao", "naver", "email")])
        self.search_base = self._add([{"search_term": s} for s in SEARCH_TERMS])
        self.coupon_base = self._add([{"coupon_code": c, "page_path": "/coupon"} for c in COUPON_CODES])
        view = [{"product_no": int(cat.no[i]), "category_name": p.category_name, "price": int(pr)}
                for i, p in enumerate(PRODUCTS) for pr in (cat.price_before[i], cat.price[i])]  # fmt: skip
        self.view_base = self._add(view)
        cart = [{**v, "quantity": q} for v in view for q in (1, 2, 3)]
        self.cart_base = self._add(cart)
        self.checkout_base = self._add([{"item_count": k} for k in range(1, 7)])

    def _add(self, props: list[dict]) -> int:
        base = len(self.snippets)
        self.snippets.extend(json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in props)
        return base

    def _add_variants(self) -> int:
        props = []
        self.variant_of: dict[str, tuple[int, int]] = {}
        for ch in CHANNELS:
            first = len(props)
            camps = LEGACY_CAMPAIGNS if ch == "messaging" else (None,)
            for src, med, ref in UTM_VARIANTS[ch]:
                for camp in camps:
                    p = {"utm_source": src, "utm_medium": med, "utm_campaign": camp,
                         "utm_content": "A" if camp else None, "referrer": ref}  # fmt: skip
                    props.append({k: v for k, v in p.items() if v is not None})
            self.variant_of[ch] = (first, len(props) - first)
        return self._add(props)


def _poisson_times(rngs: BlockRng, blk: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """``counts[i]`` uniform times in ``[lo[i], hi[i])`` per owner ``i`` (owners in block order ``blk``)."""
    owner = np.repeat(np.arange(len(counts)), counts)
    rng = rngs.over(blk[owner])
    t = lo[owner] + (rng.random(len(owner)) * (hi - lo)[owner]).astype(np.int64)
    return owner, t, rng


def make_sessions(
    rngs: BlockRng, m: Members, o: Orders, tb: Timebase, props: PropTable, guests: Guests, first_visitor: int
) -> Sessions:
    """All sessions of the event window for a chunk (see module docstring); visitors are numbered from
    ``first_visitor`` (the visitors of earlier chunks)."""
    w0, w1 = tb.window_start, tb.t_end
    rng_m = rngs.over(m.blk)
    # member browsing: active part of the window at full rate, churned part at a residual rate
    rate = BROWSE_RATE_PER_DAY * np.exp(1.1 * m.z_engage)
    lo = np.maximum(m.signup, w0)
    act_hi = np.clip(m.active_end, lo, w1)
    act_days = np.maximum(act_hi - lo, 0) / DAY
    churn_days = np.maximum(w1 - act_hi, 0) / DAY * (m.signup < w1)
    counts = rng_m.poisson(rate * (act_days + CHURNED_RATE_FACTOR * churn_days))
    b_user, b_t, rng = _poisson_times(rngs, m.blk, counts, lo, np.full(m.n, w1))
    b_t = np.clip(diurnal(rng, b_t), lo[b_user], w1 - 1)
    # purchase sessions for every order placed in the window
    in_win = np.flatnonzero(o.t >= w0)
    p_user = o.member[in_win]
    # anonymous visitors (never sign up), ANON_VISITORS_PER_MEMBER per member of each block
    per_block = np.bincount(m.blk, minlength=rngs.n_blocks)
    visitors = np.rint(ANON_VISITORS_PER_MEMBER * per_block * tb.days / 90).astype(np.int64)
    v_blk = np.repeat(np.arange(rngs.n_blocks), visitors)
    a_counts = 1 + rngs.over(v_blk).poisson(0.4, len(v_blk))
    a_dev, a_t, rng = _poisson_times(rngs, v_blk, a_counts, np.full(len(v_blk), w0), np.full(len(v_blk), w1))
    a_t = diurnal(rng, a_t)
    # sign-up sessions, plus 0–2 anonymous visits on the same device in the two weeks before
    s_user = np.flatnonzero(m.signup >= w0)
    pre = rngs.over(m.blk[s_user]).integers(0, 3, len(s_user))
    pre_user = np.repeat(s_user, pre)
    before = rngs.over(m.blk[pre_user]).random(len(pre_user)) * 14 * DAY
    pre_t = m.signup[pre_user] - before.astype(np.int64)
    keep = pre_t >= w0
    pre_user, pre_t = pre_user[keep], pre_t[keep]

    second = m.has_second_device & (rng_m.random(m.n) < 0.5)

    def member_device(users: np.ndarray, blk: np.ndarray) -> np.ndarray:
        alt = second[users] & (rngs.over(blk).random(len(users)) < 0.3)
        return np.where(alt, SECOND, PRIMARY)

    nb, nw, na, ns, npre = len(b_user), len(in_win), len(a_t), len(s_user), len(pre_user)
    is_guest = p_user < 0
    kind = np.concatenate([np.full(nb, BROWSE), np.full(nw, BUY), np.full(na, ANON), np.full(ns, SIGNUP),
                           np.full(npre, ANON)])  # fmt: skip
    blk = np.concatenate([m.blk[b_user], o.blk[in_win], v_blk[a_dev], m.blk[s_user], m.blk[pre_user]])
    user = np.concatenate([b_user, p_user, np.full(na, -1), s_user, np.full(npre, -1)])
    dev_kind = np.concatenate([member_device(b_user, m.blk[b_user]),
                               np.where(is_guest, GUEST, member_device(np.maximum(p_user, 0), o.blk[in_win])),
                               np.full(na, VISITOR), np.full(ns + npre, PRIMARY)])  # fmt: skip
    # the local member index (members' devices) or guest index, for attributes; shop-wide numbers for ids
    local = np.concatenate([b_user, np.where(is_guest, o.guest[in_win], p_user), a_dev, s_user, pre_user])
    # (purchase sessions start at the order for now: expand() moves them back by their length)
    start = np.concatenate([b_t, o.t[in_win], a_t, m.signup[s_user] - 60, pre_t])
    order = np.concatenate([np.full(nb, -1), in_win, np.full(na + ns + npre, -1)])
    by_block = np.argsort(blk, kind="stable")
    kind, blk, user, dev_kind, local, start, order = (
        x[by_block] for x in (kind, blk, user, dev_kind, local, start, order)
    )
    n = len(kind)
    rng = rngs.over(blk)
    owner_offset = np.select([dev_kind == GUEST, dev_kind == VISITOR], [guests.first, first_visitor], m.first)
    dev_member = np.where(dev_kind <= SECOND, local, -1)
    platform = np.where(
        dev_member >= 0, m.platform[np.maximum(dev_member, 0)], rng.choice(3, n, p=[0.45, 0.2, 0.35])
    )
    platform = np.where(dev_kind == SECOND, (platform + 1) % 3, platform)
    platform = np.where(kind == BUY, o.platform[np.maximum(order, 0)], platform)
    city = np.where(dev_member >= 0, m.region[np.maximum(dev_member, 0)], rng.choice(len(REGIONS), n))
    channel = rng.choice(len(CHANNELS), n, p=[0.30, 0.22, 0.13, 0.05, 0.30])
    channel = np.where(kind == BUY, o.channel[np.maximum(order, 0)], channel)
    channel = np.where(
        (user < 0) & (channel == CHANNELS.index("messaging")), CHANNELS.index("direct"), channel
    )
    variant = np.zeros(n, np.int64)
    for ci, ch in enumerate(CHANNELS):
        first, count = props.variant_of[ch]
        sel = channel == ci
        variant[sel] = props.variant_base + first + rngs.over(blk[sel]).integers(0, count, int(sel.sum()))
    engage = np.where(user >= 0, np.exp(0.35 * m.z_engage[np.maximum(user, 0)]), 0.7)
    return Sessions(start * 1_000_000 + rng.integers(0, 1_000_000, n), blk, kind, user, dev_kind,
                    owner_offset + local, platform, city, variant, order, engage, len(v_blk))  # fmt: skip


@dataclass
class Events:
    time: np.ndarray  # epoch microseconds
    session: np.ndarray
    etype: np.ndarray
    prop: np.ndarray  # index into PropTable.snippets, -1 for purchase (rendered per row)
    user: np.ndarray
    session_ms: np.ndarray  # per session: epoch ms of its first event (Amplitude session_id)


def _price_variant(cat: Catalog, product: np.ndarray, t: np.ndarray) -> np.ndarray:
    """0 = the price before the product's price change, 1 = the current price."""
    ch = cat.price_change[product]
    return ((ch == NULL_TS) | (t >= ch)).astype(np.int64)


def expand(rngs: BlockRng, s: Sessions, o: Orders, m: Members, cat: Catalog, props: PropTable) -> Events:
    """Turns sessions into events in funnel order, with products, times and property keys."""
    n = len(s.kind)
    rng = rngs.over(s.blk)
    buy, browse = s.kind == BUY, s.kind == BROWSE
    oi = np.maximum(s.order, 0)
    n_items = np.where(buy, np.diff(o.item_off)[oi], 0)
    eng = s.engage
    c = np.zeros((len(EVENT_TYPES), n), np.int64)
    c[SESSION_START] = 1
    # purposeful buyers (low engagement) go straight to the product: shallow purchase sessions
    c[PAGE_VIEW] = np.where(buy, rng.poisson(0.6 * eng), 1 + rng.poisson(0.8 * eng))
    c[SIGN_UP] = s.kind == SIGNUP
    c[SEARCH] = (rng.random(n) < np.minimum(0.3 * eng, 0.8)) * (1 + rng.poisson(0.3, n))
    c[COUPON] = rng.random(n) < np.where(s.user >= 0, 0.09, 0.04)
    c[VIEW] = np.where(
        buy, n_items + rng.poisson(0.8 * eng**2), rng.poisson(np.where(browse, 2.2 * eng, 1.2))
    )
    p_cart = np.where(browse, 1 / (1 + np.exp(-(-1.4 + 0.6 * m.z_buy[np.maximum(s.user, 0)]))), 0.06)
    cart = np.where(buy, n_items, (rng.random(n) < p_cart) * (1 + rng.poisson(0.3, n)))
    c[VIEW] = np.maximum(c[VIEW], np.where(cart > 0, 1, 0))
    c[CART] = cart
    c[CHECKOUT] = np.where(buy, 1, (cart > 0) & (rng.random(n) < 0.25))
    c[PURCHASE] = buy & (rng.random(n) >= MISSING_PURCHASE_EVENT)
    per_session = c.sum(axis=0)
    sess_off = np.concatenate([[0], np.cumsum(per_session)])
    total = int(sess_off[-1])
    session = np.repeat(np.arange(n), per_session)
    etype = np.empty(total, np.int8)
    prop = np.full(total, -1, np.int64)
    before = np.cumsum(c, axis=0) - c  # events of earlier types in the same session
    pos_of: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for ty in range(len(EVENT_TYPES)):
        k = c[ty]
        owner = np.repeat(np.arange(n), k)
        rank = np.arange(len(owner)) - np.repeat(np.cumsum(k) - k, k)
        pos = sess_off[owner] + before[ty][owner] + rank
        etype[pos] = ty
        pos_of[ty] = (pos, owner, rank)

    def draw(ty: int):  # positions of type ``ty`` are in session (so block) order
        return rngs.over(s.blk[pos_of[ty][1]])

    pos, owner, _ = pos_of[SESSION_START]
    prop[pos] = s.variant[owner]
    pos, owner, _ = pos_of[PAGE_VIEW]
    prop[pos] = props.page_base + draw(PAGE_VIEW).integers(0, props.n_pages, len(pos))
    pos, owner, _ = pos_of[SIGN_UP]
    prop[pos] = props.signup_base + draw(SIGN_UP).choice(3, len(pos), p=[0.6, 0.25, 0.15])
    pos, owner, _ = pos_of[SEARCH]
    w = 1 / np.arange(1, len(SEARCH_TERMS) + 1) ** 0.8
    prop[pos] = props.search_base + draw(SEARCH).choice(len(w), len(pos), p=w / w.sum())
    pos, owner, _ = pos_of[COUPON]
    prop[pos] = props.coupon_base + draw(COUPON).integers(0, len(COUPON_CODES), len(pos))
    pos, owner, _ = pos_of[CHECKOUT]
    prop[pos] = props.checkout_base + np.clip(c[CART][owner], 1, 6) - 1

    # event times: gaps inside a session; purchase sessions end at the order time
    # (integer microseconds: a float running sum would round differently depending on what came before it)
    gaps = ((rngs.over(s.blk[session]).exponential(40.0, total) + 2.0) * 1e6).astype(np.int64)
    gaps[sess_off[:-1][per_session > 0]] = 0
    cum = np.cumsum(gaps)
    offset = cum - np.repeat(cum[sess_off[:-1]], per_session)
    length = offset[sess_off[1:] - 1]
    start = np.where(buy, o.t[oi] * 1_000_000 - length - rng.integers(0, 1_000_000, n), s.start)
    time = start[session] + offset

    # viewed products: the order's items first, then the member's taste or the shop's popularity
    pos, owner, rank = pos_of[VIEW]
    rng = draw(VIEW)
    w = cat.weight / cat.weight.sum()
    product = rng.choice(len(w), len(pos), p=w)
    is_item = buy[owner] & (rank < n_items[owner])
    item_idx = o.item_off[oi[owner]] + np.minimum(rank, np.maximum(n_items[owner] - 1, 0))
    product = np.where(is_item, o.item_product[np.minimum(item_idx, len(o.item_product) - 1)], product)
    ok = cat.available(product, time[pos] // 1_000_000) | is_item
    product = np.where(ok, product, cat.pos[11])
    # co-view: after a hero, the next view is often one of its companions
    prev_hero = np.zeros(len(pos), bool)
    same = np.zeros(len(pos), bool)
    same[1:] = owner[1:] == owner[:-1]
    for hero, companions in COVIEW_AFFINITY.items():
        prev_hero[1:] = same[1:] & (product[:-1] == cat.pos[hero])
        swap = prev_hero & ~is_item & (rng.random(len(pos)) < 0.6)
        comp = np.array([cat.pos[p] for p in companions])[rng.integers(0, len(companions), len(pos))]
        product = np.where(swap & cat.available(comp, time[pos] // 1_000_000), comp, product)
    prop[pos] = props.view_base + product * 2 + _price_variant(cat, product, time[pos] // 1_000_000)
    view_start = sess_off[:-1] + before[VIEW]
    # cart lines: the order's items, else one of the session's viewed products
    cpos, cowner, crank = pos_of[CART]
    rng = draw(CART)
    pick = view_start[cowner] + rng.integers(0, np.maximum(c[VIEW][cowner], 1))
    view_prop = prop[pick] - props.view_base
    cart_item = o.item_off[oi[cowner]] + np.minimum(crank, np.maximum(n_items[cowner] - 1, 0))
    cart_item = np.minimum(cart_item, len(o.item_product) - 1)
    item_p = o.item_product[cart_item]
    item_view = item_p * 2 + _price_variant(cat, item_p, o.t[oi[cowner]])
    cart_view = np.where(buy[cowner], item_view, view_prop)
    qty = np.where(
        buy[cowner],
        np.clip(o.item_qty[cart_item], 1, 3),
        rng.choice([1, 2, 3], len(cpos), p=[0.8, 0.15, 0.05]),
    )
    prop[cpos] = props.cart_base + cart_view * 3 + qty - 1

    # user ids: sign-up sessions are anonymous until the sign_up event
    user = s.user[session]
    su_pos, su_owner, _ = pos_of[SIGN_UP]
    signup_at = np.full(n, -1, np.int64)
    signup_at[su_owner] = su_pos
    anon_part = (signup_at[session] >= 0) & (np.arange(total) < signup_at[session])
    user = np.where(anon_part, -1, user)
    session_ms = time[sess_off[:-1]] // 1000
    return Events(time=time, session=session, etype=etype, prop=prop, user=user, session_ms=session_ms)


def login_instants(s: Sessions) -> tuple[np.ndarray, np.ndarray]:
    """(member index, epoch seconds) of every session a member was logged in."""
    sel = s.user >= 0
    return s.user[sel], s.start[sel] // 1_000_000


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", np.uint8)
GZIP_LEVEL = 3


def uuid_strings(raw: np.ndarray, upper: np.ndarray | None = None) -> pa.StringArray:
    """UUID-v4-looking strings from an ``(n, 16)`` uint8 array, built without a Python loop (``upper``: rows in
    capitals)."""
    n = len(raw)
    nib = np.empty((n, 32), np.uint8)
    nib[:, 0::2], nib[:, 1::2] = raw >> 4, raw & 15
    chars = _HEX[nib]
    if upper is not None:
        chars[upper] = _HEX_UPPER[nib[upper]]
    chars[:, 12] = ord("4")
    out = np.full((n, 36), ord("-"), np.uint8)
    for dst, src in ((0, 0), (9, 8), (14, 12), (19, 16), (24, 20)):
        width = 12 if dst == 24 else 8 if dst == 0 else 4
        out[:, dst : dst + width] = chars[:, src : src + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))


class _DayFile:
    """The gzip stream of one drop folder, kept open across chunks; a new file after ``max_rows`` lines."""

    def __init__(self, folder: Path, max_rows: int) -> None:
        self.folder, self.max_rows = folder, max_rows
        self.number, self.rows, self.total = 0, 0, 0
        self.comp = None
        folder.mkdir(parents=True, exist_ok=True)

    def _tmp(self) -> Path:
        return self.folder / f"events-{self.number:03d}.jsonl.tmp"

    def append(self, lines: pa.StringArray) -> None:
        while len(lines):
            if self.comp is None:
                self.comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
                self._tmp().write_bytes(b"")
            take = min(len(lines), self.max_rows - self.rows)
            piece, lines = lines.slice(0, take), lines.slice(take)
            offsets = np.frombuffer(piece.buffers()[1], np.int32, len(piece) + 1, piece.offset * 4)
            data = memoryview(piece.buffers()[2])[offsets[0] : offsets[-1]]
            with open(self._tmp(), "ab") as fh:  # no handle stays open: a long history has hundreds of days
                fh.write(self.comp.compress(data))
            self.rows += take
            self.total += take
            if self.rows == self.max_rows:
                self.close()

    def close(self) -> None:
        if self.comp is None:
            return
        with open(self._tmp(), "ab") as fh:
            fh.write(self.comp.flush())
        self._tmp().replace(self.folder / f"events-{self.number:03d}.jsonl.gz")
        self.comp, self.rows, self.number = None, 0, self.number + 1


class DropWriter:
    """Writes ``drops_dir/dt=YYYY-MM-DD/events-NNN.jsonl.gz`` (KST days of arrival) chunk by chunk.

    Each chunk's events of a day are appended to that day's open gzip stream, sorted by event time within the
    chunk (late arrivals at the end); a day holding more than ``max_rows`` events continues in the next file.
    Lines are rendered with Arrow string kernels and gzipped with zlib, two days at a time in threads (both release
    the GIL). :meth:`close` finishes every file (until then they carry a ``.tmp`` suffix).
    """

    def __init__(self, drops_dir: Path, seed: int, props: PropTable, max_rows: int | None = None) -> None:
        self.drops_dir, self.seed = Path(drops_dir), seed
        self.max_rows = max_rows or MAX_ROWS_PER_FILE
        self.days: dict[int, _DayFile] = {}
        self.ctx = {
            "snippets": pa.array(props.snippets, pa.string()),
            "etypes": pa.array(EVENT_TYPES, pa.string()),
            "platforms": pa.array(PLATFORMS, pa.string()),
            "cities": pa.array([r[2] for r in REGIONS], pa.string()),
        }

    def write(
        self,
        rngs: BlockRng,
        ev: Events,
        s: Sessions,
        o: Orders,
        m: Members,
        payment: np.ndarray,
        tb: Timebase,
    ) -> None:
        """Appends a chunk's events of the window; ~1 % of them land in the next day's drop."""
        idx = np.flatnonzero(ev.time >= tb.window_start * 1_000_000)
        rng = rngs.over(s.blk[ev.session[idx]])
        late = rng.random(len(idx)) < LATE_EVENT_SHARE
        insert_raw = rng.integers(0, 256, (len(idx), 16), dtype=np.uint8)
        day = (ev.time[idx] // 1_000_000 + KST_OFFSET) // DAY + late
        order = np.lexsort((ev.time[idx], late, day))
        idx, day, insert_raw = idx[order], day[order], insert_raw[order]
        ctx = {**self.ctx, "payment": payment, "member_offset": m.first, "seed": self.seed}
        jobs = []
        bounds = np.flatnonzero(np.diff(day)) + 1
        for part in np.split(np.arange(len(idx)), bounds):
            if len(part):
                d = int(day[part[0]])
                if d not in self.days:
                    folder = self.drops_dir / f"dt={day_to_date(d).isoformat()}"
                    self.days[d] = _DayFile(folder, self.max_rows)
                jobs.append((self.days[d], idx[part], insert_raw[part]))
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda job: job[0].append(_render(ev, s, o, job[1], job[2], ctx)), jobs))

    def close(self) -> dict[str, int]:
        """Finishes every file; returns the number of events per drop date."""
        for f in self.days.values():
            f.close()
        return {day_to_date(d).isoformat(): f.total for d, f in sorted(self.days.items())}


def _render(
    ev: Events, s: Sessions, o: Orders, e: np.ndarray, insert_raw: np.ndarray, ctx: dict
) -> pa.StringArray:
    """One JSON line per event (Amplitude export field names), newline-terminated."""
    sess = ev.session[e]
    prop = ev.prop[e]
    props = pc.take(ctx["snippets"], pa.array(np.maximum(prop, 0)))
    is_purchase = prop < 0
    if is_purchase.any():
        oi0 = np.maximum(s.order[sess], 0)
        rendered = pc.binary_join_element_wise(
            '{"order_id":"', pc.take(o.order_id, pa.array(oi0)), '","revenue":',
            pa.array(ctx["payment"][oi0]).cast(pa.string()), ',"item_count":',
            pa.array(np.diff(o.item_off)[oi0]).cast(pa.string()), "}", "",
        )  # fmt: skip
        props = pc.if_else(pa.array(is_purchase), rendered, props)
    insert_ids = uuid_strings(insert_raw)
    user = ev.user[e]
    user_json = pc.if_else(
        pa.array(user >= 0),
        pc.binary_join_element_wise(
            '"m', pc.utf8_lpad(pa.array(ctx["member_offset"] + user + 1).cast(pa.string()), 7, "0"), '"', ""
        ),
        "null",
    )
    platform = s.platform[sess]
    device = uuid_strings(hashed_bytes16(ctx["seed"], s.dev_kind[sess], s.dev_no[sess]))
    device = pc.if_else(
        pa.array(platform == 1), pc.utf8_upper(device), device
    )  # iOS reports IDFVs in capitals
    event_time = pc.strftime(pa.array(ev.time[e].astype("datetime64[us]")), "%Y-%m-%d %H:%M:%S")
    return pc.binary_join_element_wise(
        '{"$insert_id":"', insert_ids,
        '","event_type":"', pc.take(ctx["etypes"], pa.array(ev.etype[e].astype(np.int64))),
        '","event_time":"', event_time,
        '","user_id":', user_json,
        ',"device_id":"', device,
        '","session_id":', pa.array(ev.session_ms[sess]).cast(pa.string()),
        ',"platform":"', pc.take(ctx["platforms"], pa.array(platform)),
        '","city":"', pc.take(ctx["cities"], pa.array(s.city[sess])),
        '","event_properties":', props, "}\n", "",
    )  # fmt: skip
