"""Per-block random streams: why the shop comes out the same however many members the generator holds at once.

Members are numbered 0..n-1 in sign-up order and grouped in blocks of :data:`BLOCK_MEMBERS`. Every random value of a
member, of its orders, sessions and events, and of the guests and anonymous visitors attached to its block, comes
from that block's own generator, seeded from ``(seed, block)``. The generator works on chunks of whole blocks (to
bound its memory); a draw over a chunk's entities is split by block and each block draws its part from its own
stream, in the same sequence of calls whatever the chunk. So a member's data depend on the seed and the member's
block only, not on the chunk size. Entities must be in block order (all of block 0's, then block 1's, …) when they
are drawn for; :meth:`BlockRng.over` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK_MEMBERS = 1_000
_STREAM_TAG = 0x5B10C  # keeps these streams apart from other uses of the same seed (Faker pools, hashes)


class Draw:
    """``numpy.random.Generator``-like draws for a block-ordered set of ``n`` entities (``size`` must be ``n``).

    Array parameters (``lam``, ``scale``, ``high`` …) are per entity and are split by block with the entities;
    ``choice``'s ``a`` and ``p`` are the options, shared by all.
    """

    def __init__(self, gens: Sequence[np.random.Generator], counts: np.ndarray) -> None:
        self._gens = gens
        self._bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n = int(self._bounds[-1])

    def _each(self, method: str, params: tuple, size, **kw) -> np.ndarray:
        shape = (self.n,) if size is None else (size,) if np.ndim(size) == 0 else tuple(size)
        if shape[0] != self.n:
            raise ValueError(f"draw of {shape[0]} values for {self.n} entities")
        for p in params:
            if np.ndim(p) and len(p) != self.n:
                raise ValueError(f"per-entity parameter of length {len(p)} for {self.n} entities")
        parts = []
        for g, lo, hi in zip(self._gens, self._bounds[:-1], self._bounds[1:], strict=True):
            args = [p[lo:hi] if np.ndim(p) else p for p in params]
            parts.append(getattr(g, method)(*args, size=(int(hi - lo), *shape[1:]), **kw))
        return np.concatenate(parts)

    def random(self, size=None) -> np.ndarray:
        return self._each("random", (), size)

    def standard_normal(self, size=None) -> np.ndarray:
        return self._each("standard_normal", (), size)

    def normal(self, loc, scale, size=None) -> np.ndarray:
        return self._each("normal", (loc, scale), size)

    def uniform(self, low, high, size=None) -> np.ndarray:
        return self._each("uniform", (low, high), size)

    def exponential(self, scale, size=None) -> np.ndarray:
        return self._each("exponential", (scale,), size)

    def poisson(self, lam, size=None) -> np.ndarray:
        return self._each("poisson", (lam,), size)

    def geometric(self, p, size=None) -> np.ndarray:
        return self._each("geometric", (p,), size)

    def beta(self, a, b, size=None) -> np.ndarray:
        return self._each("beta", (a, b), size)

    def integers(self, low, high, size=None, dtype=np.int64) -> np.ndarray:
        return self._each("integers", (low, high), size, dtype=dtype)

    def choice(self, a, size=None, p=None) -> np.ndarray:
        return self._each("choice", (), size, a=a, p=p)


class BlockRng:
    """The streams of blocks ``first_block .. first_block + n_blocks - 1`` (one chunk)."""

    def __init__(self, seed: int, first_block: int, n_blocks: int) -> None:
        self.n_blocks = n_blocks
        self._gens = [
            np.random.default_rng([seed, _STREAM_TAG, b]) for b in range(first_block, first_block + n_blocks)
        ]

    def over(self, blk: np.ndarray) -> Draw:
        """Draws for entities whose chunk-local block numbers are ``blk`` (non-decreasing)."""
        blk = np.asarray(blk, dtype=np.int64)
        if len(blk) > 1 and bool((blk[1:] < blk[:-1]).any()):
            raise ValueError("entities must be in block order to draw for them")
        return Draw(self._gens, np.bincount(blk, minlength=self.n_blocks))


# splitmix64's finalizer: a bijection of 64-bit integers that mixes every input bit into every output bit
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def hashed_bytes16(seed: int, kind: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """16 pseudo-random bytes per ``(kind, id)`` (kind < 8), the same for the same key in every chunk.

    Distinct keys get distinct first halves (``_mix64`` is a bijection), so ids built from them never collide.
    """
    key = (np.asarray(ids).astype(np.uint64) << np.uint64(3)) | np.asarray(kind).astype(np.uint64)
    salt = _mix64(np.array([seed], dtype=np.uint64) * _GOLDEN)[0]
    hi = _mix64(key ^ salt)
    lo = _mix64(hi ^ _GOLDEN)
    return np.stack([hi, lo], axis=1).view(np.uint8).reshape(len(key), 16)
