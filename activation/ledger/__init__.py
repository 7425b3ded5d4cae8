"""The send ledger: intents, batches, learned opt-outs, audience sync state, runs."""

from activation.ledger import schema
from activation.ledger.store import Ledger, as_utc

__all__ = ["Ledger", "as_utc", "schema"]
