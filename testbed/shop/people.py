"""Korean personal data at scale: Faker ko_KR pools, unique mobile numbers (with deliberate defects), e-mails.

Faker is slow per call (tens of microseconds), so a few thousand names/addresses/user names are generated once and
indexed with numpy; 1M members cost the same Faker time as 1k. Phones are unique by construction (an affine
bijection of the member or guest number onto 8 digits, so up to 10⁸ of them), so re-identification of guests by phone
works like in a real shop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from testbed.shop.blocks import Draw
from testbed.shop.catalog import REGIONS

POOL_SIZE = 4000
_PHONE_SPACE = 10**8
_PHONE_MULT = 48_271_823  # coprime with 10**8 → i ↦ (a·i + b) mod 10**8 is a bijection
_PHONE_ADD = 13_579_246


class Pools:
    """Pre-generated Faker ko_KR values sampled by index."""

    def __init__(self, seed: int, size: int = POOL_SIZE) -> None:
        fake = Faker("ko_KR")
        fake.seed_instance(seed)
        self.names = np.array([fake.name() for _ in range(size)], dtype=object)
        self.user_names = np.array([fake.user_name() for _ in range(size)], dtype=object)
        domains = ("naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net", "nate.com")
        self.domains = np.array(domains, dtype=object)
        self.domain_weights = np.array([0.42, 0.3, 0.1, 0.08, 0.06, 0.04])
        # addresses per region: Faker picks the region at random, we re-label the first token so the region
        # distribution follows population weights (Faker's own is uniform over provinces)
        rest = []
        for _ in range(size):
            parts = fake.address().split(" ", 1)
            rest.append(parts[1] if len(parts) > 1 else parts[0])
        self.address_rest = np.array(rest, dtype=object)
        self.region_names = np.array([r[0] for r in REGIONS], dtype=object)
        weights = np.array([r[1] for r in REGIONS])
        self.region_weights = weights / weights.sum()
        self.region_cities = np.array([r[2] for r in REGIONS], dtype=object)


def pick(rng: Draw, pool: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices into ``pool``."""
    return rng.integers(0, len(pool), n)


def phones(rng: Draw, ids: np.ndarray, malformed_rate: float = 0.01) -> pa.Array:
    """Unique ``010-XXXX-XXXX`` numbers for distinct ``ids``; ``malformed_rate`` of them broken on purpose.

    Broken ones are a Seoul landline (``02-XXX-XXXX``), a too-short number (``010-XXX-XXX``) or empty.
    """
    num = (ids.astype(np.int64) * _PHONE_MULT + _PHONE_ADD) % _PHONE_SPACE
    mid = pc.utf8_lpad(pa.array(num // 10_000).cast(pa.string()), 4, "0")
    last = pc.utf8_lpad(pa.array(num % 10_000).cast(pa.string()), 4, "0")
    good = pc.binary_join_element_wise("010", mid, last, "-")
    kind = rng.random(len(ids))
    bad = kind < malformed_rate
    which = rng.integers(
        0, 3, len(ids)
    )  # drawn even when nothing is broken: each block's stream stays in step
    if not bad.any():
        return good
    landline = pc.binary_join_element_wise("02", pc.utf8_slice_codeunits(mid, 1, 4), last, "-")
    short = pc.binary_join_element_wise(
        "010", pc.utf8_slice_codeunits(mid, 1, 4), pc.utf8_slice_codeunits(last, 1, 4), "-"
    )
    empty = pa.array([""] * len(ids), pa.string())
    out = pc.if_else(pa.array(bad & (which == 0)), landline, good)
    out = pc.if_else(pa.array(bad & (which == 1)), short, out)
    return pc.if_else(pa.array(bad & (which == 2)), empty, out)


def emails(rng: Draw, pools: Pools, ids: np.ndarray) -> pa.Array:
    """Unique e-mails: ``<faker user name><id>@<common Korean domain>``."""
    user = pools.user_names[pick(rng, pools.user_names, len(ids))]
    dom = pools.domains[rng.choice(len(pools.domains), len(ids), p=pools.domain_weights)]
    return pc.binary_join_element_wise(
        pa.array(user, pa.string()),
        pa.array(ids).cast(pa.string()),
        pa.array(["@"] * len(ids)),
        pa.array(dom, pa.string()),
        "",
    )


def names(rng: Draw, pools: Pools, n: int) -> pa.Array:
    """``n`` Korean full names."""
    return pa.array(pools.names[pick(rng, pools.names, n)], pa.string())


def addresses(rng: Draw, pools: Pools, n: int) -> tuple[pa.Array, np.ndarray]:
    """``n`` addresses whose first token (region) follows population weights; also the region index."""
    region = rng.choice(len(pools.region_names), n, p=pools.region_weights)
    rest = pools.address_rest[pick(rng, pools.address_rest, n)]
    addr = pc.binary_join_element_wise(
        pa.array(pools.region_names[region], pa.string()), pa.array(rest, pa.string()), " "
    )
    return addr, region
