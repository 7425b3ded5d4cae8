-- Message funnel per campaign × variant × arm, over campaign runs before
-- run_date: planned → suppressed / sent → delivered / failed (and SMS fallback)
-- → clicked → converted → revenue within the attribution window, and the cost.
-- Holdout and control arms are planned but never sent (their clicks/conversions
-- are the baseline).
with

outcomes as (
    select * from {{ ref('int_campaign_outcomes_attributed') }}
),

counted as (
    select
        campaign_id,
        variant,
        arm,
        min(goal_event) as goal_event,
        min(campaign_run_date) as first_run_date,
        max(campaign_run_date) as last_run_date,
        count(*) as planned,
        count(case when is_suppressed then 1 end) as suppressed,
        count(case when not is_suppressed then 1 end) as recipients,
        count(case when is_sent then 1 end) as sent,
        count(case when is_delivered then 1 end) as delivered,
        count(case when is_failed then 1 end) as failed,
        count(case when is_fallback then 1 end) as fallback,
        count(case when has_click and not is_suppressed then 1 end) as clicked,
        count(case when has_conversion and not is_suppressed then 1 end)
            as converted,
        sum(case when not is_suppressed then orders_in_window else 0 end)
            as orders,
        sum(case when not is_suppressed then revenue_in_window_krw else 0 end)
            as revenue_krw,
        sum(cost_krw) as cost_krw,
        count(case when is_window_complete then 1 end) as windows_complete
    from outcomes
    group by campaign_id, variant, arm
),

final as (
    select
        campaign_id,
        variant,
        arm,
        goal_event,
        first_run_date,
        last_run_date,
        planned,
        suppressed,
        recipients,
        sent,
        delivered,
        failed,
        fallback,
        clicked,
        converted,
        orders,
        revenue_krw,
        cost_krw,
        {{ safe_divide('delivered', 'sent') }} as delivery_rate,
        {{ safe_divide('clicked', 'recipients') }} as click_rate,
        {{ safe_divide('converted', 'recipients') }} as conversion_rate,
        windows_complete
    from counted
)

select * from final
