{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        pre_hook="{{ replace_partitions('event_date', arrived_column='drop_date') }}",
        on_schema_change='append_new_columns',
    )
}}
-- One row per tracked event up to the end of run_date, in KST. Incremental on
-- the data interval: events of the lookback window (by event date or drop date)
-- plus any event not loaded yet; events are immutable, so a nightly run equals
-- a full refresh of the same data.
with

staged as (
    select * from {{ ref('stg_events__events') }}
    where event_date <= {{ run_date() }}
),

events as (
    select staged.* from staged
    {%- if is_incremental() %}
    left join {{ this }} as existing
        on staged.event_id = existing.event_id
    where
        staged.event_date >= {{ lookback_start_date() }}
        or staged.drop_date >= {{ lookback_start_date() }}
        -- late beyond the lookback: an event not loaded before
        or existing.event_id is null
    {%- endif %}
),

final as (
    select
        event_id,
        event_type,
        event_at,
        event_date,
        member_id as customer_id,
        member_id,
        device_id,
        session_id,
        session_key,
        platform,
        city,
        product_no,
        category_name,
        search_term,
        order_id,
        revenue_krw,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        referrer,
        acquisition_channel,
        drop_date,
        drop_file
    from events
)

select * from final
