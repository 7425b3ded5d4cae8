{{ config(materialized='view') }}
-- One row per tracked event up to the end of run_date, in KST: the public
-- columns of the event history (int_events_sessionized, stored once and
-- incremental), so marts readers need not know the intermediate layer.
with

events as (
    select * from {{ ref('int_events_sessionized') }}
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
