-- Shopify products, one row per product id (latest version), in the columns of
-- stg_cafe24__products. Shopify has no category number: product_type is the
-- category, numbered by the smallest product id of the type (docs/dbt.md).
with

source as (
    select * from {{ source('shopify', 'products') }}
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

current_products as (
    select
        *,
        coalesce(nullif(trim(product_type), ''), 'unknown') as category
    from latest
    where version_rank = 1
),

final as (
    select
        id as product_no,
        nullif(trim(variants__sku), '') as product_code,
        title as product_name,
        -- an integer, so it orders the same on every engine and collation
        min(id) over (partition by category) as category_no,
        category as category_name,
        {{ shop_money_major('variants__price') }} as price_krw,
        -- published to the online store = displayed; active = on sale
        published_at is not null as is_displayed,
        coalesce(lower(trim(status)) = 'active', false) as is_selling,
        {{ to_business_timestamp('created_at') }} as created_at,
        {{ to_business_timestamp('updated_at') }} as updated_at
    from current_products
)

select * from final
