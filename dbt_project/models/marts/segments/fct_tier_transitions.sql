{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ replace_partitions('transition_date') }}",
        on_schema_change='append_new_columns',
        full_refresh=false,
    )
}}
-- Tier changes: one row per customer and date whose purchase-frequency tier
-- differs from the day before, both computed from data. A customer first seen
-- on the date has from_tier null (is_new_customer).
with

segments as (
    select * from {{ ref('int_customer_segments_scored') }}
),

dates as (
    select * from {{ ref('int_as_of_dates') }}
),

compared as (
    select
        today.customer_id,
        dates.as_of_date as transition_date,
        yesterday.tier as from_tier,
        today.tier as to_tier,
        yesterday.tier_rank as from_tier_rank,
        today.tier_rank as to_tier_rank,
        yesterday.order_count as from_order_count,
        today.order_count as to_order_count
    from dates
    inner join segments as today on dates.as_of_date = today.as_of_date
    left join segments as yesterday
        on
            today.customer_id = yesterday.customer_id
            and dates.previous_date = yesterday.as_of_date
    where dates.previous_date >= (select min(d.as_of_date) from dates as d)
),

final as (
    select
        customer_id,
        transition_date,
        from_tier,
        to_tier,
        from_order_count,
        to_order_count,
        from_tier is null as is_new_customer,
        coalesce(to_tier_rank > from_tier_rank, false) as is_upgrade,
        coalesce(to_tier_rank < from_tier_rank, false) as is_downgrade
    from compared
    where from_tier is null or from_tier <> to_tier
)

select * from final
