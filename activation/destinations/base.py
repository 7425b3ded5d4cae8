"""The small interfaces every destination implements, and the records they exchange with the sender.

A *message destination* (Solapi, webhook) takes a batch of rendered messages and reports per-message results
through a :class:`BatchJournal`, which the sender backs with the ledger so each step is committed as it happens.
An *audience destination* (Channel Talk) upserts members and removes the tags it manages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from activation.destinations.limits import EndpointLimits

Outcome = Literal["pending", "accepted", "delivered", "failed", "retry", "opted_out"]


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered message for one recipient (the intent it comes from is ``intent_id``)."""

    intent_id: str
    idempotency_key: str
    channel: str
    recipient: str
    body: dict[str, Any]
    custom_fields: dict[str, str]
    send_at: datetime | None = None


@dataclass
class MessageResult:
    """What the provider says about one message."""

    intent_id: str
    outcome: Outcome
    message_id: str | None = None
    status_code: str | None = None
    status_message: str | None = None
    message_type: str | None = None
    replacement: bool | None = None


@dataclass
class BatchInfo:
    """A batch as the ledger knows it."""

    batch_id: str
    destination: str
    campaign_id: str
    send_at: datetime | None
    scheduled: bool
    group_id: str | None = None
    status: str = "open"


class BatchJournal(Protocol):
    """Ledger callbacks; each one is committed before the destination takes its next step."""

    def group_created(self, group_id: str) -> None:
        """The provider-side container exists; recorded before any message is added to it."""

    def results(self, results: list[MessageResult]) -> None:
        """Per-message outcomes as they come back."""

    def handed_over(self) -> None:
        """Every message of the batch is at the provider."""

    def sent(self, scheduled: bool) -> None:
        """The batch was sent (or scheduled) at the provider."""

    def release(self, intent_ids: list[str]) -> None:
        """These messages never reached the provider and must go into a later batch."""


class MessageDestination(Protocol):
    """Sends batches of messages (Solapi groups, webhook posts)."""

    name: str
    limits: EndpointLimits

    def message_size(self, message: OutboundMessage) -> int:
        """Bytes the message adds to a request (for the per-request byte limit)."""

    def send_batch(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        """Hands a new batch to the provider."""

    def resume_batch(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        """Finishes a batch a crashed run left in flight, without sending anything twice."""

    def poll_results(self, batch: BatchInfo) -> list[MessageResult]:
        """Latest per-message status of a sent batch (delivery reports); empty when the provider has none."""

    def close(self) -> None: ...


@dataclass
class RemoteUser:
    """A member as an audience destination holds it after a write."""

    user_id: str | None
    tags: list[str] = field(default_factory=list)
    unsubscribe_texting: bool = False
    unsubscribe_email: bool = False


class AudienceDestination(Protocol):
    """Keeps member profiles and managed tags in sync (Channel Talk)."""

    name: str
    limits: EndpointLimits

    def upsert_member(self, member_key: str, body: dict[str, Any]) -> RemoteUser:
        """Creates or updates the member with ``body`` (profile, tags, unsubscribe flags)."""

    def update_user(self, user_id: str, body: dict[str, Any]) -> RemoteUser:
        """Updates an existing user by the destination's own id (never creates one)."""

    def close(self) -> None: ...
