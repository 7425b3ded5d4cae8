{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        pre_hook="{{ replace_partitions('event_date', arrived_column='drop_date') }}",
        on_schema_change='append_new_columns',
    )
}}
-- The event history, stored once: every event dated up to the end of run_date
-- that had arrived by then, with its session (the source session id, else one
-- derived by inactivity: macro inactivity_sessions) and session key. The marts'
-- fct_events and every event model read it.
-- Incremental: writes only int_events_this_run's rows (new or changed events,
-- and the sessionless events of their actors whose session changes), so each
-- event is parsed once and the night costs what arrived that night; a nightly
-- run equals a full refresh (tests/dbt/test_dbt_incremental.py).
with

{% if is_incremental() -%}
final as (
    select
        {{ staged_event_columns() }},
        session_id,
        is_derived_session,
        session_key
    from {{ ref('int_events_this_run') }}
    where is_upsert
)
{%- else -%}
staged as (
    select * from {{ ref('stg_events__events') }}
    where event_date <= {{ run_date() }}
),

sessionless as (
    select
        event_id,
        actor_id,
        event_ms
    from staged
    where source_session_id is null
),

derived as (
    {{ inactivity_sessions('sessionless') }}
),

sessioned as (
    select
        {{ staged_event_columns('staged') }},
        coalesce(staged.source_session_id, derived.session_id) as session_id,
        staged.source_session_id is null as is_derived_session
    from staged
    left join derived on staged.event_id = derived.event_id
    {#- a dependency on every run (its rows are used incrementally) #}
    -- depends_on: {{ ref('int_events_this_run') }}
),

final as (
    select
        *,
        actor_id || ':' || session_id as session_key
    from sessioned
)
{%- endif %}

select * from final
