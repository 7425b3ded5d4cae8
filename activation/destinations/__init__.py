"""Destinations behind one small interface (see :mod:`activation.destinations.base`), one folder each."""

from __future__ import annotations

from activation.destinations.base import AudienceDestination, MessageDestination


def message_destination(name: str, *, sender: str) -> MessageDestination:
    """A message destination built from its Airflow connection (``crm_solapi`` / ``crm_webhook``)."""
    if name == "solapi":
        from activation.destinations.solapi import SolapiDestination

        return SolapiDestination.from_connection(sender)
    if name == "webhook":
        from activation.destinations.webhook import WebhookDestination

        return WebhookDestination.from_connection()
    raise ValueError(f"unknown message destination '{name}'")


def audience_destination(name: str) -> AudienceDestination:
    """An audience destination built from its Airflow connection (``crm_channeltalk``)."""
    if name == "channeltalk":
        from activation.destinations.channeltalk import ChannelTalkDestination

        return ChannelTalkDestination.from_connection()
    raise ValueError(f"unknown audience destination '{name}'")
