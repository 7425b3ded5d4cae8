{{
    config(
        materialized='table',
        post_hook="{{ analyze_relation() }}",
    )
}}
-- Tracked events, one row per insert_id (latest load wins): KST time, JSON
-- properties as columns, the session, and the acquisition channel on
-- session_start rows. A table, not a view: five models read it, and parsing
-- the JSON once (with planner statistics on PostgreSQL) is what keeps them
-- fast.
-- Sessions: an event keeps its source session id (any string; Amplitude's -1,
-- "no session", counts as none). Events without one are sessionized per actor
-- (device or anonymous id, else the member id): a new session starts after more
-- than var session_inactivity_minutes without an event of that actor; its id
-- is the epoch ms of its first event (as Amplitude's), so the key is the same
-- on every engine and every rebuild.
with

source as (
    -- only drops that had arrived by the end of run_date (replay, macro doc)
    select * from {{ source('events', 'events') }}
    where {{ arrived_by_run_date('drop_date') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by insert_id
            order by _dlt_load_id desc nulls last
        ) as version_rank
    from source
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
        drop_file
    from latest
    where version_rank = 1
),

sessionless as (
    select
        event_id,
        actor_id,
        event_ms,
        case
            when
                lag(event_ms) over (
                    partition by actor_id order by event_ms, event_id
                ) >= event_ms - {{ var('session_inactivity_minutes') }} * 60000
                then 0
            else 1
        end as is_session_start
    from parsed
    where source_session_id is null
),

numbered as (
    select
        event_id,
        actor_id,
        event_ms,
        sum(is_session_start) over (
            partition by actor_id
            order by event_ms, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from sessionless
),

derived_sessions as (
    select
        event_id,
        cast(
            min(event_ms) over (partition by actor_id, session_number)
            as {{ dbt.type_string() }}
        ) as session_id
    from numbered
),

sessioned as (
    select
        parsed.*,
        coalesce(parsed.source_session_id, derived_sessions.session_id)
            as session_id,
        derived_sessions.event_id is not null as is_derived_session
    from parsed
    left join derived_sessions on parsed.event_id = derived_sessions.event_id
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
        session_id,
        actor_id || ':' || session_id as session_key,
        is_derived_session,
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
        drop_file
    from sessioned
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
