-- Engagement of each customer as of each recomputed date: counts over the
-- recent (30-day) and full (90-day) windows ending on that date, and the
-- interest score (formula in docs/dbt.md):
--   interest = Σ recent window (w_session·sessions + w_view·views
--                               + w_cart·cart adds + w_click·clicks)
--            + older_weight × the same sum over the rest of the full window
{%- set recent = var('engagement_recent_days') | int %}
{%- set full = var('engagement_window_days') | int %}
with

dates as (
    select * from {{ ref('int_as_of_dates') }}
),

activity as (
    select * from {{ ref('int_customer_activity_daily') }}
),

windowed as (
    select
        activity.customer_id,
        dates.as_of_date,
        activity.activity_date > {{ add_days('dates.as_of_date', -recent) }}
            as is_recent,
        activity.sessions,
        activity.product_views,
        activity.cart_adds,
        activity.message_clicks
    from activity
    inner join dates
        on
            activity.activity_date <= dates.as_of_date
            and activity.activity_date
            > {{ add_days('dates.as_of_date', -full) }}
),

counted as (
    select
        customer_id,
        as_of_date,
        sum(case when is_recent then sessions else 0 end) as sessions_30d,
        sum(sessions) as sessions_90d,
        sum(case when is_recent then product_views else 0 end)
            as product_views_30d,
        sum(product_views) as product_views_90d,
        sum(case when is_recent then cart_adds else 0 end) as cart_adds_30d,
        sum(cart_adds) as cart_adds_90d,
        sum(case when is_recent then message_clicks else 0 end)
            as message_clicks_30d,
        sum(message_clicks) as message_clicks_90d
    from windowed
    group by customer_id, as_of_date
),

points as (
    select
        *,
        {{ var('interest_weight_session') }} * sessions_30d
        + {{ var('interest_weight_product_view') }} * product_views_30d
        + {{ var('interest_weight_cart_add') }} * cart_adds_30d
        + {{ var('interest_weight_message_click') }} * message_clicks_30d
            as recent_points,
        {{ var('interest_weight_session') }} * (sessions_90d - sessions_30d)
        + {{ var('interest_weight_product_view') }}
        * (product_views_90d - product_views_30d)
        + {{ var('interest_weight_cart_add') }}
        * (cart_adds_90d - cart_adds_30d)
        + {{ var('interest_weight_message_click') }}
        * (message_clicks_90d - message_clicks_30d)
            as older_points
    from counted
),

final as (
    select
        customer_id,
        as_of_date,
        sessions_30d,
        sessions_90d,
        product_views_30d,
        product_views_90d,
        cart_adds_30d,
        cart_adds_90d,
        message_clicks_30d,
        message_clicks_90d,
        {{ round_score(
            'recent_points + ' ~ var('engagement_older_weight') ~ ' * older_points'
        ) }} as interest_score
    from points
)

select * from final
