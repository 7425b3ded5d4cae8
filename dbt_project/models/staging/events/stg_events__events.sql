{{ config(materialized='view') }}
-- Tracked events as they arrived by the end of run_date (replay, macro
-- arrived_by_run_date): KST time, JSON properties as typed columns, the actor,
-- the source session id and the acquisition channel on session_start rows. A
-- view: the loaders keep one row per insert_id (dlt merge), and the one stored
-- copy of the history is int_events_sessionized, which reads through this view
-- only the rows a run has to (re)write, so each event's JSON is parsed once.
-- Sessions of events without a source session id are derived there.
with

source as (
    -- only drops that had arrived by the end of run_date (replay, macro doc)
    select * from {{ source('events', 'events') }}
    where {{ arrived_by_run_date('drop_date') }}
),

parsed as (
    select
        insert_id as event_id,
        lower(trim(event_type)) as event_type,
        {{ to_business_timestamp('event_time') }} as event_at,
        nullif(trim(user_id), '') as member_id,
        nullif(trim(device_id), '') as device_id,
        case
            when
                trim(cast(session_id as {{ dbt.type_string() }}))
                not in ('', '-1')
                then trim(cast(session_id as {{ dbt.type_string() }}))
        end as source_session_id,
        coalesce(
            nullif(trim(device_id), ''), 'member:' || nullif(trim(user_id), '')
        ) as actor_id,
        {{ epoch_ms('event_time') }} as event_ms,
        platform,
        city,
        -- a payload that is not a JSON object yields null properties instead
        -- of failing the build
        case
            when left(trim(event_properties), 1) = '{' then event_properties
        end as properties,
        drop_date,
        drop_file,
        -- the load watermark of the incremental event history
        _dlt_load_id as load_id
    from source
),

extracted as (
    select
        event_id,
        event_type,
        event_at,
        cast(event_at as date) as event_date,
        member_id,
        device_id,
        actor_id,
        source_session_id,
        event_ms,
        platform,
        city,
        {{ safe_cast_bigint(json_extract_text('properties', 'product_no')) }}
            as product_no,
        {{ json_extract_text('properties', 'category_name') }} as category_name,
        {{ json_extract_text('properties', 'search_term') }} as search_term,
        {{ json_extract_text('properties', 'order_id') }} as order_id,
        {{ safe_cast_numeric(json_extract_text('properties', 'revenue')) }}
            as revenue_krw,
        nullif(lower({{ json_extract_text('properties', 'utm_source') }}), '')
            as utm_source,
        nullif(lower({{ json_extract_text('properties', 'utm_medium') }}), '')
            as utm_medium,
        nullif({{ json_extract_text('properties', 'utm_campaign') }}, '')
            as utm_campaign,
        nullif({{ json_extract_text('properties', 'utm_content') }}, '')
            as utm_content,
        nullif({{ json_extract_text('properties', 'referrer') }}, '')
            as referrer,
        nullif({{ json_extract_text('properties', 'page_url') }}, '')
            as page_url,
        -- the event says where the visit came from (a web hit: page,
        -- referrer or utm given, even empty); its first event can then give a
        -- session without session_start its channel
        coalesce(
            {{ json_extract_text('properties', 'page_url') }} is not null
            or {{ json_extract_text('properties', 'referrer') }} is not null
            or {{ json_extract_text('properties', 'utm_source') }} is not null
            or {{ json_extract_text('properties', 'utm_medium') }} is not null,
            false
        ) as has_page_context,
        drop_date,
        drop_file,
        load_id
    from parsed
),

final as (
    select
        *,
        case
            when event_type = 'session_start'
                then {{ acquisition_channel(
                    'utm_source', 'utm_medium', 'referrer'
                ) }}
        end as acquisition_channel
    from extracted
)

select * from final
