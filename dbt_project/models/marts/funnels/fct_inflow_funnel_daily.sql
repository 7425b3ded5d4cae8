{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ replace_partitions('funnel_date') }}",
        on_schema_change='append_new_columns',
    )
}}
-- Inflow funnel per day, acquisition channel and segment: sessions → product
-- view → add to cart → checkout → purchase → orders and order revenue. The
-- segment is the customer's segment at the start of the day
-- (fct_customer_segments_daily of the day before): 'anonymous' without a
-- logged-in member, 'new' for a member not yet a customer the day before,
-- 'unknown' when that day has no segment history yet. Incremental: the lookback
-- days are recomputed (late events), older days are kept.
with

sessions as (
    select
        *,
        {{ add_days('session_date', -1) }} as previous_date
    from {{ ref('int_sessions_aggregated') }}
    {%- if is_incremental() %}
    where session_date >= {{ lookback_start_date() }}
    {%- endif %}
),

segments as (
    select
        segment_date,
        customer_id,
        segment
    from {{ ref('fct_customer_segments_daily') }}
),

history_dates as (
    select distinct segment_date from segments
),

purchase_events as (
    select distinct
        session_key,
        order_id
    from {{ ref('int_events_sessionized') }}
    where
        event_type = 'purchase'
        and order_id is not null
        and event_date <= {{ run_date() }}
),

orders as (
    select
        order_id,
        payment_amount_krw
    from {{ ref('int_orders_enriched') }}
),

session_orders as (
    select
        purchase_events.session_key,
        count(*) as orders,
        sum(orders.payment_amount_krw) as order_revenue_krw
    from purchase_events
    inner join orders on purchase_events.order_id = orders.order_id
    group by purchase_events.session_key
),

labelled as (
    select
        sessions.*,
        case
            when sessions.member_id is null then 'anonymous'
            when segments.segment is not null then segments.segment
            when history_dates.segment_date is not null then 'new'
            else 'unknown'
        end as segment,
        coalesce(session_orders.orders, 0) as orders,
        coalesce(session_orders.order_revenue_krw, 0) as order_revenue_krw
    from sessions
    left join segments
        on
            sessions.member_id = segments.customer_id
            and sessions.previous_date = segments.segment_date
    left join history_dates
        on sessions.previous_date = history_dates.segment_date
    left join session_orders
        on sessions.session_key = session_orders.session_key
),

final as (
    select
        session_date as funnel_date,
        acquisition_channel,
        segment,
        count(*) as sessions,
        count(distinct device_id) as devices,
        count(distinct member_id) as members,
        -- distinct users (member, else device/anonymous id) per step: exact
        -- for this day x channel x segment and summable over segments, NOT
        -- over days or channels (fct_inflow_funnel_periods has those)
        count(distinct user_key) as unique_users,
        count(distinct case when has_product_view then user_key end)
            as product_view_users,
        count(distinct case when has_cart_add then user_key end)
            as cart_add_users,
        count(distinct case when has_checkout then user_key end)
            as checkout_users,
        count(distinct case when has_purchase then user_key end)
            as purchase_users,
        count(case when has_product_view then 1 end) as product_view_sessions,
        count(case when has_cart_add then 1 end) as cart_add_sessions,
        count(case when has_checkout then 1 end) as checkout_sessions,
        count(case when has_purchase then 1 end) as purchase_sessions,
        sum(product_views) as product_views,
        sum(cart_adds) as cart_adds,
        sum(orders) as orders,
        sum(order_revenue_krw) as order_revenue_krw,
        {{ safe_divide(
            'count(case when has_purchase then 1 end)', 'count(*)'
        ) }} as session_conversion_rate
    from labelled
    group by session_date, acquisition_channel, segment
)

select * from final
