-- Shopify's Admin REST API has no product reviews (they live in review apps):
-- an empty relation with the columns and types of stg_cafe24__reviews, so the
-- review marts and audiences build (empty) in Shopify mode. It selects from
-- the products source (reviews are about products) so the lineage shows where
-- Shopify's reviews would come from and staging still only reads sources.
with

products as (
    select * from {{ source('shopify', 'products') }}
),

final as (
    select
        cast(null as {{ dbt.type_bigint() }}) as review_id,
        cast(null as {{ dbt.type_bigint() }}) as board_no,
        cast(null as {{ dbt.type_bigint() }}) as product_no,
        cast(null as {{ dbt.type_string() }}) as member_id,
        cast(null as {{ dbt.type_string() }}) as order_id,
        cast(null as {{ dbt.type_bigint() }}) as rating,
        cast(null as timestamp) as reviewed_at,
        cast(null as date) as reviewed_date,
        cast(null as timestamp) as updated_at
    from products
    where 1 = 0
)

select * from final
