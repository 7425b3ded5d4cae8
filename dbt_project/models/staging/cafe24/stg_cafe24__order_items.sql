-- Order lines, one row per order_item_code (latest load wins).
with

source as (
    select * from {{ source('cafe24', 'order_items') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by order_item_code
            order by _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

final as (
    select
        order_item_code,
        order_id,
        product_no,
        product_name,
        coalesce(quantity, 0) as quantity,
        {{ shop_money('coalesce(product_price, 0)') }} as unit_price_krw,
        coalesce(quantity, 0) * {{ shop_money('coalesce(product_price, 0)') }}
            as line_amount_krw,
        upper(trim(order_status)) as item_status
    from latest
    where version_rank = 1
)

select * from final
