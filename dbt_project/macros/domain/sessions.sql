{#
    Sessions of events without a source session id, by inactivity: per actor, in (event_ms, event_id) order, a new
    session starts when the previous event is more than var session_inactivity_minutes earlier (a gap of exactly
    that long stays in the session); the session id is the epoch ms of its first event (as Amplitude's), so the key
    is the same on every engine and every rebuild.

    `relation` holds rows (event_id, actor_id, event_ms) of sessionless events; for each actor they must start at a
    session start (all of the actor's events, or its events from a known session start on: int_events_this_run).
    Returns the select of (event_id, session_id).
#}
{% macro inactivity_sessions(relation) -%}
    with

    flagged as (
        select
            event_id,
            actor_id,
            event_ms,
            case
                when
                    lag(event_ms) over (
                        partition by actor_id order by event_ms, event_id
                    )
                    >= event_ms - {{ var('session_inactivity_minutes') }} * 60000
                    then 0
                else 1
            end as is_session_start
        from {{ relation }}
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
        from flagged
    )

    select
        event_id,
        cast(
            min(event_ms) over (partition by actor_id, session_number)
            as {{ dbt.type_string() }}
        ) as session_id
    from numbered
{%- endmacro %}

{#
    The columns of stg_events__events in order, as the event history (int_events_sessionized) stores them before
    its session columns (session_id, is_derived_session, session_key). `prefix` qualifies each name.
#}
{% macro staged_event_columns(prefix='') -%}
    {%- set names = [
        'event_id', 'event_type', 'event_at', 'event_date', 'member_id', 'device_id', 'actor_id',
        'source_session_id', 'event_ms', 'platform', 'city', 'product_no', 'category_name', 'search_term',
        'order_id', 'revenue_krw', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'referrer',
        'page_url', 'has_page_context', 'drop_date', 'drop_file', 'load_id', 'acquisition_channel',
    ] -%}
    {%- for name in names %}
    {{ prefix ~ '.' if prefix }}{{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
    Earliest date an incremental run of the session models must rebuild from (a SQL date literal, or none when
    int_events_this_run is empty): the earliest date of a changed event, of a session a changed event left, or of
    a stored session a changed event joins. Every session the run touches starts on or after it, before and after
    the change. Queried when the model is rendered (before its hooks run).
#}
{% macro event_changes_since() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set sessions = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_sessions_aggregated') -%}
    {%- set changes = ref('int_events_this_run') -%}
    {%- set query -%}
        select min(since) from (
            select min(event_date) as since from {{ changes }}
            union all
            select min(old_session_date) from {{ changes }}
            {%- if sessions is not none %}
            union all
            select min(stored.session_date)
            from {{ sessions }} as stored
            inner join (select distinct session_key from {{ changes }}) as touched
                on stored.session_key = touched.session_key
            {%- endif %}
        ) as bounds
    {%- endset -%}
    {%- set since = run_query(query).columns[0].values()[0] -%}
    {{ return(none if since is none else "cast('" ~ since ~ "' as date)") }}
{%- endmacro %}

{# Pre-hook of int_sessions_aggregated: deletes every session int_events_this_run touches (rebuilt after). #}
{% macro delete_touched_sessions() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where session_key in (
            select session_key from {{ ref('int_events_this_run') }}
            where is_upsert
            union
            select old_session_key from {{ ref('int_events_this_run') }}
            where old_session_key is not null
        )
    {%- endif -%}
{%- endmacro %}

{# Pre-hook of int_customer_activity_daily: deletes the days it rebuilds (macro event_changes_since). #}
{% macro delete_activity_since() -%}
    {%- if is_incremental() -%}
        {%- set since = event_changes_since() -%}
        {%- if since is not none -%}
            delete from {{ this }} where activity_date >= {{ since }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#
    First date fct_inflow_funnel_periods recomputes: the lookback start (yesterday's partial periods become
    complete), or an earlier date the night's changed events touch (macro event_changes_since).
#}
{% macro funnel_periods_since() -%}
    {%- set changed = event_changes_since() -%}
    {%- if changed is none -%}
        {{ return(lookback_start_date()) }}
    {%- endif -%}
    {{ return('least(' ~ lookback_start_date() ~ ', ' ~ changed ~ ')') }}
{%- endmacro %}

{# Pre-hook of fct_inflow_funnel_periods: deletes the periods it rebuilds. #}
{% macro delete_funnel_periods_since() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where period_end >= {{ funnel_periods_since() }}
    {%- endif -%}
{%- endmacro %}
