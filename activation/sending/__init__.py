"""Sending: the send-time guard, crash-safe batches, delivery-report reconciliation."""

from activation.sending.sender import Sender, SendReport

__all__ = ["SendReport", "Sender"]
