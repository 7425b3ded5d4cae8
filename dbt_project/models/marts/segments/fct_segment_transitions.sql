{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ replace_partitions('transition_date') }}",
        on_schema_change='append_new_columns',
        full_refresh=false,
    )
}}
-- Segment changes: one row per customer and date whose segment differs from the
-- day before, both days computed from data (so the first run and backfills have
-- transitions too). A customer first seen on the date has from_segment null
-- (is_new_customer).
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
        yesterday.segment as from_segment,
        today.segment as to_segment,
        yesterday.interest_score as from_interest_score,
        today.interest_score as to_interest_score,
        yesterday.conversion_score as from_conversion_score,
        today.conversion_score as to_conversion_score
    from dates
    inner join segments as today on dates.as_of_date = today.as_of_date
    left join segments as yesterday
        on
            today.customer_id = yesterday.customer_id
            and dates.previous_date = yesterday.as_of_date
    -- the earliest recomputed date has no previous day in this run
    where dates.previous_date >= (select min(d.as_of_date) from dates as d)
),

final as (
    select
        customer_id,
        transition_date,
        from_segment,
        to_segment,
        from_interest_score,
        to_interest_score,
        from_conversion_score,
        to_conversion_score,
        from_segment is null as is_new_customer
    from compared
    where from_segment is null or from_segment <> to_segment
)

select * from final
