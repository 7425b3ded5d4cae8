-- One row per order line of orders placed by the end of run_date, with product
-- category and the order's cancellation state as of run_date.
with

items as (
    select * from {{ ref('int_order_items_joined') }}
),

final as (
    select
        order_item_code,
        order_id,
        customer_id,
        ordered_at,
        order_date,
        product_no,
        product_name,
        category_no,
        category_name,
        quantity,
        unit_price_krw,
        line_amount_krw,
        is_cancelled
    from items
)

select * from final
