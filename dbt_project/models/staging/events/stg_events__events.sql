{{
    config(
        materialized='table',
        post_hook="{{ analyze_relation() }}",
    )
}}
-- Tracked events, one row per insert_id (latest load wins): KST time, JSON
-- properties as columns, and the acquisition channel on session_start rows. A
-- table, not a view: five models read it, and parsing the JSON once (with
-- planner statistics on PostgreSQL) is what keeps them fast.
with

source as (
    select * from {{ source('events', 'events') }}
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
        device_id,
        session_id,
        device_id || ':' || cast(session_id as {{ dbt.type_string() }})
            as session_key,
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

extracted as (
    select
        event_id,
        event_type,
        event_at,
        cast(event_at as date) as event_date,
        member_id,
        device_id,
        session_id,
        session_key,
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
        drop_date,
        drop_file
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
