"""Exactly-once checks on a finished history: nothing duplicated at the providers, no intent lost or left open."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rel_fingerprint import accepted
from rel_scenarios import INFLIGHT, Result

FINAL = {"accepted", "delivered", "failed", "suppressed", "holdout", "control"}
NEEDS_REASON = {"failed", "suppressed", "holdout", "control"}
AT_PROVIDER = {"accepted", "delivered", "failed"}


def exactly_once_problems(res: Result) -> list[str]:
    """Every violation of "each planned message reaches its provider exactly once, every other intent says why"."""
    problems: list[str] = []
    took = accepted(res.messages)
    # 1. no duplicates at the providers, by business key and by intent
    per_key = Counter(m["key"] for m in took)
    dups = {k: n for k, n in per_key.items() if n > 1}
    if dups:
        problems.append(
            f"{len(dups)} (campaign, customer, run_date) accepted more than once by Solapi: {list(dups)[:3]}"
        )
    per_intent = Counter(m["custom"].get("intent_id") for m in res.messages)
    if max(per_intent.values(), default=0) > 1:
        twice = [k for k, n in per_intent.items() if n > 1]
        problems.append(f"{len(twice)} intents handed to Solapi more than once: {twice[:3]}")
    hook_ids = Counter(m.get("intent_id") for m in res.hooks)
    if max(hook_ids.values(), default=0) > 1:
        problems.append(f"webhook got intents twice: {[k for k, n in hook_ids.items() if n > 1][:3]}")
    # 2. every intent is final, with a reason where it was not sent
    open_ = [i for i in res.intents if i["status"] not in FINAL]
    if open_:
        problems.append(
            f"{len(open_)} intents not final: {[(i['idempotency_key'], i['status']) for i in open_[:3]]}"
        )
    no_reason = [i for i in res.intents if i["status"] in NEEDS_REASON and not i["reason"]]
    if no_reason:
        problems.append(f"{len(no_reason)} intents {no_reason[0]['status']} without a reason")
    # 3. every intent the ledger says reached the provider is there exactly once, and nothing else is
    by_intent = {m["custom"].get("intent_id"): m for m in res.messages}
    took_ids = {m["custom"].get("intent_id") for m in took}
    solapi = [i for i in res.intents if i["destination"] == "solapi"]
    missing = [
        i["idempotency_key"] for i in solapi if i["status"] in AT_PROVIDER and i["intent_id"] not in by_intent
    ]
    if missing:
        problems.append(f"{len(missing)} intents marked sent but unknown to Solapi: {missing[:3]}")
    not_taken = [
        i["idempotency_key"]
        for i in solapi
        if i["status"] in ("accepted", "delivered") and i["intent_id"] not in took_ids
    ]
    if not_taken:
        problems.append(
            f"{len(not_taken)} intents accepted in the ledger but not in a sent Solapi group: {not_taken[:3]}"
        )
    sent_ids = {i["intent_id"] for i in solapi if i["status"] in AT_PROVIDER}
    unknown = [m["key"] for m in took if m["custom"].get("intent_id") not in sent_ids]
    if unknown:
        problems.append(
            f"{len(unknown)} messages accepted by Solapi that the ledger does not count as sent: {unknown[:3]}"
        )
    stranded = [
        m["key"] for m in res.messages if m["phase"] == "registered" and m["group_status"] == "PENDING"
    ]
    if stranded:
        problems.append(f"{len(stranded)} messages stranded in a group that was never sent: {stranded[:3]}")
    hooks = [i for i in res.intents if i["destination"] == "webhook" and i["status"] in AT_PROVIDER]
    if {i["intent_id"] for i in hooks} != set(hook_ids):
        problems.append("webhook messages and ledger disagree")
    # 4. no batch left half-done
    inflight = [b for b in res.batches if b["status"] in INFLIGHT]
    if inflight:
        problems.append(f"{len(inflight)} batches still in flight: {[b['status'] for b in inflight]}")
    return problems


def summary(res: Result) -> dict[str, Any]:
    """Counts worth printing next to a verdict."""
    return {
        "intents": dict(Counter(i["status"] for i in res.intents)),
        "solapi_accepted": len(accepted(res.messages)),
        "solapi_stored": len(res.messages),
        "webhook": len(res.hooks),
        "seconds": res.seconds,
        "restarts": res.restarts,
    }
