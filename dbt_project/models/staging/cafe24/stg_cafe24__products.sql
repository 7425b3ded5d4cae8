-- Products, one row per product_no (latest version).
with

source as (
    select * from {{ source('cafe24', 'products') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by product_no
            order by updated_date desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

final as (
    select
        product_no,
        product_code,
        product_name,
        category_no,
        coalesce(nullif(trim(category_name), ''), 'unknown') as category_name,
        {{ shop_money('price') }} as price_krw,
        {{ flag_to_boolean('display', default=false) }} as is_displayed,
        {{ flag_to_boolean('selling', default=false) }} as is_selling,
        {{ to_business_timestamp('created_date') }} as created_at,
        {{ to_business_timestamp('updated_date') }} as updated_at
    from latest
    where version_rank = 1
)

select * from final
