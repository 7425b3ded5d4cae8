{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ replace_partitions('segment_date', 1) }}",
        on_schema_change='append_new_columns',
        full_refresh=false,
    )
}}
-- Daily history of every customer's G1–G4 segment with the scores and
-- thresholds behind it. Each run replaces the partitions of the dates it
-- recomputes from data (run_date and the lookback days), so a rebuilt or
-- backfilled date equals its nightly run. full_refresh=false keeps the history.
with

segments as (
    select * from {{ ref('int_customer_segments_scored') }}
),

final as (
    select
        as_of_date as segment_date,
        customer_id,
        segment,
        tier,
        interest_score,
        conversion_score,
        threshold_mode,
        interest_threshold,
        conversion_threshold,
        is_high_interest,
        is_high_conversion,
        order_count,
        net_revenue_krw,
        days_since_last_order
    from segments
)

select * from final
