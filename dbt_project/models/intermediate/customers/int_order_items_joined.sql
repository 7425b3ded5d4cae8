-- Order lines of orders placed by the end of run_date, with product category
-- and the order's customer and cancellation state as of run_date.
with

items as (
    select * from {{ storefront_ref('order_items') }}
),

orders as (
    -- state as of run_date (int_orders_enriched)
    select
        *,
        cancelled_at is not null as is_cancelled
    from {{ ref('int_orders_enriched') }}
),

products as (
    select * from {{ storefront_ref('products') }}
),

final as (
    select
        items.order_item_code,
        items.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.delivered_at,
        items.product_no,
        products.category_no,
        items.quantity,
        items.unit_price_krw,
        items.line_amount_krw,
        orders.is_cancelled,
        coalesce(products.product_name, items.product_name) as product_name,
        coalesce(products.category_name, 'unknown') as category_name
    from items
    inner join orders on items.order_id = orders.order_id
    left join products on items.product_no = products.product_no
)

select * from final
