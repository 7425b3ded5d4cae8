"""Solapi status codes mapped to what the sender does: accepted, delivered, retry later, final failure, opt-out.

1xxx: rejected at intake; 2000 accepted; 3000 at the carrier; 4000 delivered; other 3xxx: delivery failures.
Unknown codes are final failures (never retried blindly: a retry could duplicate a delivered message).
"""

from __future__ import annotations

from activation.destinations.base import Outcome

ACCEPTED = {"2000", "3000"}
DELIVERED = {"4000"}
OPT_OUT = {"1061", "2061"}  # recipient is on the 080 opt-out list
RETRYABLE = {
    "1030",  # balance too low at intake
    "2230",  # balance too low
    "3108",  # outside the FriendTalk window: not delivered, safe to send in the next window
}
FINAL = {
    "1010": "missing field",
    "1020": "bad recipient number",
    "1021": "bad customFields",
    "1022": "unsupported type",
    "1026": "duplicate recipient in group",
    "1031": "message too long",
    "1042": "unknown template or channel",
    "1043": "text does not match the template",
    "1062": "unregistered sender number",
    "3040": "carrier timeout (may have arrived late: never resent)",
    "3043": "handset off",
    "3104": "not a KakaoTalk user",
    "3105": "unregistered template",
    "3107": "user blocked AlimTalk",
}


def outcome(code: str | None) -> Outcome:
    """What a status code means for the intent."""
    code = (code or "").strip()
    if code in DELIVERED:
        return "delivered"
    if code in ACCEPTED:
        return "accepted"
    if code in OPT_OUT:
        return "opted_out"
    if code in RETRYABLE:
        return "retry"
    if not code:
        return "pending"
    return "failed"
