-- Review funnel per delivery date: delivered orders → review requested (a
-- campaign whose goal is a review, sent to the buyer after delivery) → review
-- written, plus the share of selling products that had reached
-- review_target_count reviews by that date (source doc 000: raise the share of
-- 10+ review products).
{%- set request_horizon_days = 30 %}
with

orders as (
    select * from {{ ref('int_orders_enriched') }}
    -- delivered and not cancelled as of run_date (int_orders_enriched)
    where delivered_at is not null and cancelled_at is null
),

requests as (
    select * from {{ ref('int_message_sends_enriched') }}
    where
        goal_event = 'review'
        and is_sent
),

reviews as (
    select * from {{ storefront_ref('reviews') }}
    where reviewed_date <= {{ run_date() }}
),

products as (
    select * from {{ storefront_ref('products') }}
    where cast(created_at as date) <= {{ run_date() }} or created_at is null
),

order_requests as (
    select
        orders.order_id,
        min(requests.exposure_at) as requested_at
    from orders
    inner join requests
        on
            orders.customer_id = requests.customer_id
            and orders.delivered_at <= requests.exposure_at
            and {{ add_days_ts('orders.delivered_at', request_horizon_days) }}
            > requests.exposure_at
    group by orders.order_id
),

order_reviews as (
    select
        order_id,
        min(reviewed_at) as first_reviewed_at
    from reviews
    where order_id is not null
    group by order_id
),

order_funnel as (
    select
        cast(orders.delivered_at as date) as delivered_date,
        orders.order_id,
        order_requests.requested_at,
        order_reviews.first_reviewed_at,
        {{ days_between('orders.delivered_at', 'order_requests.requested_at') }}
            as request_delay_days
    from orders
    left join order_requests on orders.order_id = order_requests.order_id
    left join order_reviews on orders.order_id = order_reviews.order_id
),

daily as (
    select
        delivered_date,
        count(*) as delivered_orders,
        count(requested_at) as review_requested_orders,
        count(first_reviewed_at) as reviewed_orders,
        count(
            case when first_reviewed_at >= requested_at then 1 end
        ) as reviewed_after_request_orders,
        avg(cast(request_delay_days as {{ type_double() }}))
            as avg_request_delay_days
    from order_funnel
    group by delivered_date
),

product_reviews_by_date as (
    select
        daily.delivered_date,
        reviews.product_no,
        count(*) as reviews_to_date
    from daily
    inner join reviews on daily.delivered_date >= reviews.reviewed_date
    group by daily.delivered_date, reviews.product_no
),

coverage as (
    select
        delivered_date,
        count(
            case
                when reviews_to_date >= {{ var('review_target_count') }} then 1
            end
        ) as products_at_review_target
    from product_reviews_by_date
    group by delivered_date
),

selling as (
    select count(*) as selling_products
    from products
    where is_selling
),

final as (
    select
        daily.delivered_date,
        daily.delivered_orders,
        daily.review_requested_orders,
        daily.reviewed_orders,
        daily.reviewed_after_request_orders,
        {{ safe_divide(
            'daily.review_requested_orders', 'daily.delivered_orders'
        ) }} as review_request_rate,
        {{ safe_divide('daily.reviewed_orders', 'daily.delivered_orders') }}
            as review_write_rate,
        {{ safe_divide(
            'daily.reviewed_after_request_orders',
            'daily.review_requested_orders'
        ) }} as review_write_rate_after_request,
        daily.avg_request_delay_days,
        coalesce(coverage.products_at_review_target, 0)
            as products_at_review_target,
        selling.selling_products,
        {{ safe_divide(
            'coalesce(coverage.products_at_review_target, 0)',
            'selling.selling_products'
        ) }} as share_products_at_review_target
    from daily
    cross join selling
    left join coverage on daily.delivered_date = coverage.delivered_date
)

select * from final
