-- Orders placed by the end of run_date with their state as of run_date: a
-- cancellation or refund dated after run_date has not happened yet, so a past
-- date rebuilds as it was.
with

orders as (
    select * from {{ storefront_ref('orders') }}
    where order_date <= {{ run_date() }}
),

final as (
    select
        order_id,
        customer_id,
        member_id,
        is_member_order,
        ordered_at,
        order_date,
        paid_at,
        payment_amount_krw,
        items_amount_krw,
        shipping_fee_krw,
        discount_krw,
        order_status,
        order_status_group,
        cancelled_at,
        refunded_at,
        refund_amount_krw,
        shipped_at,
        delivered_at,
        is_mobile_order,
        utm_campaign,
        updated_at
    from orders
)

select * from final
