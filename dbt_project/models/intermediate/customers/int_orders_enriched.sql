-- Orders placed by the end of run_date with their state as of run_date: a
-- payment, cancellation, refund, shipment or delivery dated after run_date has
-- not happened yet (null, refund amount 0), so a past date rebuilds as it was
-- (macro dated_by_run_date). Downstream models read these as they are.
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
        {{ dated_by_run_date('paid_at') }} as paid_at,
        payment_amount_krw,
        items_amount_krw,
        shipping_fee_krw,
        discount_krw,
        order_status,
        order_status_group,
        {{ dated_by_run_date('cancelled_at') }} as cancelled_at,
        {{ dated_by_run_date('refunded_at') }} as refunded_at,
        case
            when {{ happened_by('refunded_at') }} then refund_amount_krw else 0
        end as refund_amount_krw,
        {{ dated_by_run_date('shipped_at') }} as shipped_at,
        {{ dated_by_run_date('delivered_at') }} as delivered_at,
        is_mobile_order,
        utm_campaign,
        updated_at,
        -- dlt load of the raw row: fct_orders' load watermark
        load_id
    from orders
)

select * from final
