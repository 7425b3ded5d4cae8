-- Shopify order lines, one row per line item id (latest version), in the
-- columns of stg_cafe24__order_items. Lines carry no status of their own in
-- the extracted contract (item_status is null).
with

source as (
    select * from {{ source('shopify', 'order_line_items') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by id
            order by updated_at desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

typed as (
    select
        cast(id as {{ dbt.type_string() }}) as order_item_code,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        product_id as product_no,
        title as product_name,
        coalesce(quantity, 0) as quantity,
        {{ shop_money_major('coalesce(price, 0)') }} as unit_price_krw
    from latest
    where version_rank = 1
),

final as (
    select
        order_item_code,
        order_id,
        product_no,
        product_name,
        quantity,
        unit_price_krw,
        quantity * unit_price_krw as line_amount_krw,
        cast(null as {{ dbt.type_string() }}) as item_status
    from typed
)

select * from final
