-- Shopify's Admin REST API has no subscription plans (they live in
-- subscription apps / selling plans, not extracted): an empty relation with
-- the columns and types of stg_cafe24__subscriptions, so the subscription
-- marts and audiences build (empty) in Shopify mode. It selects from the
-- customers source (plans belong to customers) so the lineage shows where they
-- would come from and staging still only reads sources.
with

customers as (
    select * from {{ source('shopify', 'customers') }}
),

final as (
    select
        cast(null as {{ dbt.type_string() }}) as subscription_id,
        cast(null as {{ dbt.type_string() }}) as member_id,
        cast(null as {{ dbt.type_bigint() }}) as product_no,
        cast(null as {{ dbt.type_string() }}) as subscription_state,
        cast(null as {{ dbt.type_string() }}) as delivery_cycle,
        cast(null as {{ dbt.type_bigint() }}) as total_deliveries,
        cast(null as {{ dbt.type_bigint() }}) as used_deliveries,
        cast(null as {{ dbt.type_bigint() }}) as remaining_deliveries,
        cast(null as boolean) as has_auto_renewal,
        cast(null as date) as start_date,
        cast(null as date) as end_date,
        cast(null as timestamp) as created_at,
        cast(null as timestamp) as updated_at
    from customers
    where 1 = 0
)

select * from final
