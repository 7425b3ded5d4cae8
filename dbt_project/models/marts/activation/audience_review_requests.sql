-- Buyers to ask for a review: per customer, their most recently delivered order
-- (within review_request_max_days of run_date) that has no review yet, and its
-- most expensive unreviewed item. Campaigns pick the delay with
-- days_since_delivery (e.g. 3, var review_request_delay_days).
with

customers as (
    select * from {{ ref('dim_customers') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where
        delivered_at is not null
        and not is_cancelled
        and {{ days_between('delivered_at', run_date()) }}
        between 0 and {{ var('review_request_max_days') }}
),

items as (
    select * from {{ ref('fct_order_items') }}
),

reviewed_items as (
    select distinct
        order_id,
        product_no
    from {{ storefront_ref('reviews') }}
    where reviewed_date <= {{ run_date() }} and order_id is not null
),

unreviewed_items as (
    select
        orders.customer_id,
        orders.order_id,
        orders.delivered_at,
        items.product_no,
        items.product_name,
        row_number() over (
            partition by orders.customer_id
            order by
                orders.delivered_at desc,
                orders.order_id desc,
                items.unit_price_krw desc,
                items.product_no asc
        ) as pick_rank
    from orders
    inner join items on orders.order_id = items.order_id
    left join reviewed_items
        on
            items.order_id = reviewed_items.order_id
            and items.product_no = reviewed_items.product_no
    where reviewed_items.order_id is null
),

final as (
    select
        {{ audience_columns('customers') }},
        unreviewed_items.order_id,
        unreviewed_items.product_no,
        unreviewed_items.product_name,
        cast(unreviewed_items.delivered_at as date) as delivered_date,
        {{ days_between('unreviewed_items.delivered_at', run_date()) }}
            as days_since_delivery
    from unreviewed_items
    inner join customers on unreviewed_items.customer_id = customers.customer_id
    where unreviewed_items.pick_rank = 1
)

select * from final
