-- Outcome of every planned message within its attribution window [exposure,
-- exposure + the campaign's attribution_days): clicks (our message sessions of
-- the campaign), goal conversions (purchase = a non-cancelled order, review = a
-- review written, any other goal = an event of that type) and the net order
-- revenue, counted only up to the end of run_date.
with

sends as (
    select * from {{ ref('int_message_sends_enriched') }}
),

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

reviews as (
    select * from {{ storefront_ref('reviews') }}
    where reviewed_date <= {{ run_date() }}
),

events as (
    select
        member_id,
        event_type,
        event_at
    from {{ ref('int_events_sessionized') }}
    where member_id is not null and event_date <= {{ run_date() }}
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    where is_message_click and member_id is not null
),

windows as (
    select
        *,
        {{ dbt.dateadd('day', 'attribution_days', 'exposure_at') }}
            as window_end_at
    from sends
),

order_values as (
    select
        order_id,
        customer_id,
        ordered_at,
        -- refunds and cancellations as of run_date (int_orders_enriched)
        case
            when refunded_at is not null
                then greatest(payment_amount_krw - refund_amount_krw, 0)
            else payment_amount_krw
        end as net_revenue_krw
    from orders
    where cancelled_at is null
),

goal_events as (
    select
        customer_id,
        'purchase' as goal_event,
        ordered_at as goal_at
    from order_values
    union all
    select
        coalesce(orders.customer_id, reviews.member_id) as customer_id,
        'review' as goal_event,
        reviews.reviewed_at as goal_at
    from reviews
    left join orders on reviews.order_id = orders.order_id
    union all
    select
        member_id as customer_id,
        event_type as goal_event,
        event_at as goal_at
    from events
    where event_type not in ('purchase', 'review')
),

purchases as (
    select
        windows.intent_id,
        count(*) as orders_in_window,
        sum(order_values.net_revenue_krw) as revenue_in_window_krw
    from windows
    inner join order_values
        on
            windows.customer_id = order_values.customer_id
            and windows.exposure_at <= order_values.ordered_at
            and windows.window_end_at > order_values.ordered_at
    group by windows.intent_id
),

conversions as (
    select
        windows.intent_id,
        count(*) as goal_conversions
    from windows
    inner join goal_events
        on
            windows.customer_id = goal_events.customer_id
            and windows.goal_event = goal_events.goal_event
            and windows.exposure_at <= goal_events.goal_at
            and windows.window_end_at > goal_events.goal_at
    group by windows.intent_id
),

clicks as (
    select
        windows.intent_id,
        count(*) as clicks_in_window
    from windows
    inner join sessions
        on
            windows.customer_id = sessions.member_id
            and windows.campaign_id = sessions.utm_campaign
            and windows.exposure_at <= sessions.started_at
            and windows.window_end_at > sessions.started_at
    group by windows.intent_id
),

final as (
    select
        windows.intent_id,
        windows.campaign_id,
        windows.variant,
        windows.campaign_run_date,
        windows.customer_id,
        windows.channel,
        windows.arm,
        windows.send_status,
        windows.goal_event,
        windows.attribution_days,
        windows.is_suppressed,
        windows.is_sent,
        windows.is_delivered,
        windows.is_failed,
        windows.is_fallback,
        windows.cost_krw,
        windows.exposure_at,
        cast(windows.window_end_at as timestamp) as window_end_at,
        cast(windows.window_end_at as timestamp)
        <= cast({{ run_date_minus(-1) }} as timestamp) as is_window_complete,
        coalesce(clicks.clicks_in_window, 0) as clicks_in_window,
        coalesce(clicks.clicks_in_window, 0) > 0 as has_click,
        coalesce(conversions.goal_conversions, 0) > 0 as has_conversion,
        coalesce(purchases.orders_in_window, 0) as orders_in_window,
        coalesce(purchases.revenue_in_window_krw, 0) as revenue_in_window_krw
    from windows
    left join clicks on windows.intent_id = clicks.intent_id
    left join conversions on windows.intent_id = conversions.intent_id
    left join purchases on windows.intent_id = purchases.intent_id
)

select * from final
