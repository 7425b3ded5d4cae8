-- Subscription plans (weekly fresh food), one row per subscription (latest
-- version).
with

source as (
    select * from {{ source('cafe24', 'subscriptions') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by subscription_id
            order by updated_date desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

final as (
    select
        subscription_id,
        member_id,
        product_no,
        lower(trim(subscription_state)) as subscription_state,
        delivery_cycle,
        coalesce(total_delivery_count, 0) as total_deliveries,
        coalesce(used_delivery_count, 0) as used_deliveries,
        greatest(
            coalesce(total_delivery_count, 0)
            - coalesce(used_delivery_count, 0),
            0
        ) as remaining_deliveries,
        {{ flag_to_boolean('auto_renewal', default=false) }}
            as has_auto_renewal,
        cast({{ to_business_timestamp('start_date') }} as date) as start_date,
        cast({{ to_business_timestamp('end_date') }} as date) as end_date,
        {{ to_business_timestamp('created_date') }} as created_at,
        {{ to_business_timestamp('updated_date') }} as updated_at
    from latest
    where version_rank = 1
)

select * from final
