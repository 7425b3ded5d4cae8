-- Tier, interest and conversion scores, thresholds and G1–G4 of every customer
-- for each recomputed date, from data only (never from an earlier run), so any
-- date rebuilds identically. Formulas in docs/dbt.md:
--   conversion = recency multiplier
--                × (points per order × orders in the purchase window
--                   + window net revenue / revenue unit)
--   high = score > 0 and score >= threshold (an absolute var, or a
--          percentile of that day's positive scores)
with

dates as (
    select * from {{ ref('int_as_of_dates') }}
),

customers as (
    select * from {{ ref('int_customers_unioned') }}
),

orders as (
    select * from {{ ref('int_customer_orders_as_of') }}
),

engagement as (
    select * from {{ ref('int_customer_engagement_as_of') }}
),

spine as (
    select
        customers.customer_id,
        dates.as_of_date
    from customers
    inner join dates on customers.first_seen_date <= dates.as_of_date
),

joined as (
    select
        spine.customer_id,
        spine.as_of_date,
        orders.last_order_at,
        coalesce(orders.order_count, 0) as order_count,
        coalesce(orders.net_revenue_krw, 0) as net_revenue_krw,
        coalesce(orders.window_order_count, 0) as window_order_count,
        coalesce(orders.window_net_revenue_krw, 0) as window_net_revenue_krw,
        {{ days_between('orders.last_order_at', 'spine.as_of_date') }}
            as days_since_last_order,
        coalesce(engagement.sessions_30d, 0) as sessions_30d,
        coalesce(engagement.product_views_30d, 0) as product_views_30d,
        coalesce(engagement.cart_adds_30d, 0) as cart_adds_30d,
        coalesce(engagement.message_clicks_30d, 0) as message_clicks_30d,
        coalesce(engagement.interest_score, 0) as interest_score
    from spine
    left join orders
        on
            spine.customer_id = orders.customer_id
            and spine.as_of_date = orders.as_of_date
    left join engagement
        on
            spine.customer_id = engagement.customer_id
            and spine.as_of_date = engagement.as_of_date
),

recency as (
    select
        *,
        case
            when window_order_count = 0 then 0
            when days_since_last_order < {{ var('engagement_recent_days') }}
                then 1
            when days_since_last_order < {{ var('engagement_window_days') }}
                then {{ var('conversion_recency_mid_multiplier') }}
            else {{ var('conversion_recency_low_multiplier') }}
        end as recency_multiplier
    from joined
),

scored as (
    select
        *,
        {{ purchase_tier('order_count') }} as tier,
        {{ round_score(
            'recency_multiplier * ('
            ~ var('conversion_points_per_order') ~ ' * window_order_count'
            ~ ' + cast(window_net_revenue_krw as decimal(18, 0)) * '
            ~ per_revenue_unit() ~ ')'
        ) }} as conversion_score
    from recency
),

interest_cuts as (
    select
        as_of_date,
        {{ percentile_disc(
            'interest_score', var('interest_threshold_percentile')
        ) }} as threshold
    from scored
    where interest_score > 0
    group by as_of_date
),

conversion_cuts as (
    select
        as_of_date,
        {{ percentile_disc(
            'conversion_score', var('conversion_threshold_percentile')
        ) }} as threshold
    from scored
    where conversion_score > 0
    group by as_of_date
),

thresholds as (
    select
        dates.as_of_date,
        '{{ segment_threshold_mode() }}' as threshold_mode,
        {{ segment_threshold('interest', 'interest_cuts.threshold') }}
            as interest_threshold,
        {{ segment_threshold('conversion', 'conversion_cuts.threshold') }}
            as conversion_threshold
    from dates
    left join interest_cuts on dates.as_of_date = interest_cuts.as_of_date
    left join conversion_cuts on dates.as_of_date = conversion_cuts.as_of_date
),

flagged as (
    select
        scored.*,
        thresholds.threshold_mode,
        thresholds.interest_threshold,
        thresholds.conversion_threshold,
        coalesce(
            scored.interest_score > 0
            and scored.interest_score >= thresholds.interest_threshold,
            false
        ) as is_high_interest,
        coalesce(
            scored.conversion_score > 0
            and scored.conversion_score >= thresholds.conversion_threshold,
            false
        ) as is_high_conversion
    from scored
    inner join thresholds on scored.as_of_date = thresholds.as_of_date
),

final as (
    select
        customer_id,
        as_of_date,
        tier,
        {{ tier_rank('tier') }} as tier_rank,
        order_count,
        net_revenue_krw,
        window_order_count,
        window_net_revenue_krw,
        days_since_last_order,
        interest_score,
        conversion_score,
        threshold_mode,
        interest_threshold,
        conversion_threshold,
        is_high_interest,
        is_high_conversion,
        {{ segment_from_flags('is_high_interest', 'is_high_conversion') }}
            as segment
    from flagged
)

select * from final
