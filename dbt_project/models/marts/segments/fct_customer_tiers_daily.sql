{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ replace_partitions('tier_date', 1) }}",
        on_schema_change='append_new_columns',
        full_refresh=false,
    )
}}
-- Daily history of every customer's purchase-frequency tier and the order count
-- behind it; partitions of recomputed dates are replaced like
-- fct_customer_segments_daily. full_refresh=false keeps the history.
with

segments as (
    select * from {{ ref('int_customer_segments_scored') }}
),

final as (
    select
        as_of_date as tier_date,
        customer_id,
        tier,
        tier_rank,
        order_count
    from segments
)

select * from final
