"""Generic webhook destination (app push, e-mail service): signed JSON POST with an Idempotency-Key."""

from activation.destinations.webhook.destination import WebhookDestination, signature

__all__ = ["WebhookDestination", "signature"]
