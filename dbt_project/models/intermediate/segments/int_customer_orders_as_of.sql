-- Purchasing of each customer as of each recomputed date (int_as_of_dates):
-- orders placed by then, minus those cancelled by then, revenue net of refunds
-- made by then.
with

dates as (
    select * from {{ ref('int_as_of_dates') }}
),

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

orders_as_of as (
    select
        dates.as_of_date,
        orders.customer_id,
        orders.order_id,
        orders.ordered_at,
        orders.order_date,
        orders.payment_amount_krw,
        {{ happened_by('orders.cancelled_at', 'dates.as_of_date') }}
            as is_cancelled,
        case
            when {{ happened_by('orders.refunded_at', 'dates.as_of_date') }}
                then orders.refund_amount_krw
            else 0
        end as refunded_krw,
        orders.order_date > {{ add_days(
            'dates.as_of_date', -(var('purchase_window_days') | int)
        ) }} as is_in_purchase_window
    from orders
    inner join dates on orders.order_date <= dates.as_of_date
),

valued as (
    select
        *,
        case
            when is_cancelled then 0
            else greatest(payment_amount_krw - refunded_krw, 0)
        end as net_revenue_krw
    from orders_as_of
),

final as (
    select
        customer_id,
        as_of_date,
        count(case when not is_cancelled then 1 end) as order_count,
        count(case when is_cancelled then 1 end) as cancelled_order_count,
        sum(case when not is_cancelled then payment_amount_krw else 0 end)
            as gross_revenue_krw,
        sum(case when not is_cancelled then refunded_krw else 0 end)
            as refunded_krw,
        sum(net_revenue_krw) as net_revenue_krw,
        min(case when not is_cancelled then ordered_at end) as first_order_at,
        max(case when not is_cancelled then ordered_at end) as last_order_at,
        count(
            case when not is_cancelled and is_in_purchase_window then 1 end
        ) as window_order_count,
        sum(case when is_in_purchase_window then net_revenue_krw else 0 end)
            as window_net_revenue_krw
    from valued
    group by customer_id, as_of_date
)

select * from final
