"""Planning: which customer gets which message of which campaign, and why not."""

from activation.planning.planner import CampaignPlan, Plan, Planner, idempotency_key, intent_id

__all__ = ["CampaignPlan", "Plan", "Planner", "idempotency_key", "intent_id"]
