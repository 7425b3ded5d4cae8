"""The synthetic shop: a seeded generator of a Korean pet-supplies store and an as-of view of it.

``generate_shop`` writes Parquet tables (final state + lifecycle timestamps) and daily event drops;
``ShopStore`` answers "what did the shop look like at instant ts" through DuckDB table macros. The storefront API
emulators serve from it; tests and benchmarks load it into the warehouse with ``include.extract.file_import``.
"""

from testbed.shop.generator import generate_shop
from testbed.shop.store import ShopStore

__all__ = ["ShopStore", "generate_shop"]
