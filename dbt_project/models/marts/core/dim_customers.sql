-- One row per customer (members and guest buyers) as of run_date: purchasing,
-- engagement, preferences, subscription, consent, tier, G1–G4 segment with its
-- scores and thresholds, and the tier's benefit.
with

customers as (
    select * from {{ ref('int_customers_unioned') }}
),

segments as (
    select * from {{ ref('int_customer_segments_scored') }}
    where as_of_date = {{ run_date() }}
),

orders as (
    select * from {{ ref('int_customer_orders_as_of') }}
    where as_of_date = {{ run_date() }}
),

engagement as (
    select * from {{ ref('int_customer_engagement_as_of') }}
    where as_of_date = {{ run_date() }}
),

preferences as (
    select * from {{ ref('int_customer_preferences_ranked') }}
),

subscriptions as (
    select * from {{ ref('int_customer_subscriptions_summarized') }}
),

opt_outs as (
    select * from {{ ref('int_customer_opt_outs_collected') }}
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    where member_id is not null
),

reviews as (
    select * from {{ storefront_ref('reviews') }}
    where reviewed_date <= {{ run_date() }}
),

review_orders as (
    select
        order_id,
        customer_id
    from {{ ref('int_orders_enriched') }}
),

benefits as (
    select * from {{ ref('tier_benefit_policy') }}
),

order_averages as (
    select
        customer_id,
        {{ safe_divide('net_revenue_krw', 'order_count') }}
            as avg_order_value,
        {{ safe_divide(
            days_between('first_order_at', 'last_order_at'),
            'order_count - 1'
        ) }} as avg_days_between_orders
    from orders
),

first_sessions as (
    select
        member_id,
        acquisition_channel,
        row_number() over (
            partition by member_id order by started_at, session_key
        ) as session_rank
    from sessions
),

review_counts as (
    select
        coalesce(review_orders.customer_id, reviews.member_id) as customer_id,
        count(*) as review_count
    from reviews
    left join review_orders on reviews.order_id = review_orders.order_id
    group by coalesce(review_orders.customer_id, reviews.member_id)
),

consent_dates as (
    select
        customer_id,
        -- earliest date a still-valid consent was given: the re-confirmation
        -- clock runs from it
        cast(least(
            case when consent_sms then consent_sms_at end,
            case when consent_kakao then consent_kakao_at end,
            case when consent_email then consent_email_at end,
            case when consent_push then consent_push_at end,
            case when consent_night then consent_night_at end
        ) as date) as oldest_consent_date
    from customers
),

final as (
    select
        customers.customer_id,
        customers.member_id,
        customers.is_member,
        customers.customer_name,
        customers.phone,
        customers.has_valid_phone,
        customers.email,
        customers.gender,
        customers.birth_date,
        customers.region,
        coalesce(first_sessions.acquisition_channel, 'unknown')
            as acquisition_channel,
        customers.signed_up_at,
        customers.first_seen_date,
        customers.last_login_at,
        orders.first_order_at,
        orders.last_order_at,
        coalesce(orders.order_count, 0) as order_count,
        coalesce(orders.cancelled_order_count, 0) as cancelled_order_count,
        coalesce(orders.gross_revenue_krw, 0) as gross_revenue_krw,
        coalesce(orders.refunded_krw, 0) as refunded_krw,
        coalesce(orders.net_revenue_krw, 0) as net_revenue_krw,
        cast(
            round(cast(order_averages.avg_order_value as decimal(18, 2)), 0)
            as {{ dbt.type_bigint() }}
        ) as avg_order_value_krw,
        segments.days_since_last_order,
        cast(
            round(
                cast(
                    order_averages.avg_days_between_orders as decimal(18, 4)
                ),
                1
            ) as decimal(10, 1)
        ) as avg_days_between_orders,
        preferences.preferred_category_no,
        preferences.preferred_category_name,
        preferences.preferred_product_no,
        preferences.preferred_product_name,
        coalesce(engagement.sessions_30d, 0) as sessions_30d,
        coalesce(engagement.sessions_90d, 0) as sessions_90d,
        coalesce(engagement.product_views_30d, 0) as product_views_30d,
        coalesce(engagement.product_views_90d, 0) as product_views_90d,
        coalesce(engagement.cart_adds_30d, 0) as cart_adds_30d,
        coalesce(engagement.cart_adds_90d, 0) as cart_adds_90d,
        coalesce(engagement.message_clicks_30d, 0) as message_clicks_30d,
        coalesce(engagement.message_clicks_90d, 0) as message_clicks_90d,
        coalesce(review_counts.review_count, 0) as review_count,
        subscriptions.current_subscription_id,
        coalesce(subscriptions.subscription_state, 'none')
            as subscription_state,
        subscriptions.subscription_remaining_deliveries,
        subscriptions.subscription_has_auto_renewal,
        subscriptions.subscription_end_date,
        coalesce(subscriptions.subscription_count, 0) as subscription_count,
        {{ consent_columns('customers.') }},
        opt_outs.phone is not null as is_opted_out,
        opt_outs.first_opt_out_at as opted_out_at,
        {{ add_years(
            'consent_dates.oldest_consent_date',
            var('consent_reconfirmation_years') | int
        ) }} as consent_reconfirmation_due_date,
        coalesce(
            {{ add_years(
                'consent_dates.oldest_consent_date',
                var('consent_reconfirmation_years') | int
            ) }} <= {{ run_date() }},
            false
        ) as is_consent_reconfirmation_due,
        segments.tier,
        segments.tier_rank,
        segments.segment,
        segments.interest_score,
        segments.conversion_score,
        segments.threshold_mode,
        segments.interest_threshold,
        segments.conversion_threshold,
        segments.is_high_interest,
        segments.is_high_conversion,
        benefits.benefit_code,
        benefits.benefit_discount_pct,
        benefits.benefit_scope,
        {{ run_date() }} as run_date
    from customers
    inner join segments on customers.customer_id = segments.customer_id
    left join orders on customers.customer_id = orders.customer_id
    left join order_averages
        on customers.customer_id = order_averages.customer_id
    left join engagement on customers.customer_id = engagement.customer_id
    left join preferences on customers.customer_id = preferences.customer_id
    left join subscriptions on customers.customer_id = subscriptions.customer_id
    left join opt_outs on customers.phone = opt_outs.phone
    left join review_counts on customers.customer_id = review_counts.customer_id
    left join first_sessions
        on
            customers.customer_id = first_sessions.member_id
            and first_sessions.session_rank = 1
    left join consent_dates on customers.customer_id = consent_dates.customer_id
    left join benefits on segments.tier = benefits.tier
)

select * from final
