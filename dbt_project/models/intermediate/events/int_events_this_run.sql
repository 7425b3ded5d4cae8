{{ config(materialized='table') }}
-- What this run changes in the event history (int_events_sessionized), the way
-- the snowplow packages process only new events: the rows to (re)write, each
-- with its session, and the rows the replay rule removes, each with the session
-- it had. Read before the history is written (int_events_sessionized's input),
-- so the session and activity models know which sessions and days to rebuild.
-- Empty on the first run and on a full refresh (everything is rebuilt).
--
-- The rows to write:
--  * new or changed events: arrived by the end of run_date and dated on or
--    before it, from the lookback window (event date or drop date), or loaded
--    after the history's load watermark (a late import of old events);
--  * for each actor whose sessionless events change (new, or removed by the
--    replay rule), its stored sessionless events from the session holding its
--    earliest changed event on: a session start is found one event back (the
--    stored event just before the change, if within the inactivity gap, gives
--    its session's start), so sessions spanning two drops, midnight or a late
--    event come out as a full rebuild would make them.
{%- set events = adapter.get_relation(
    database=this.database, schema=this.schema,
    identifier='int_events_sessionized') %}
{%- set sessions = adapter.get_relation(
    database=this.database, schema=this.schema,
    identifier='int_sessions_aggregated') %}
{%- set incremental = events is not none and not flags.FULL_REFRESH %}
{#- the load watermark: the latest raw load the history holds #}
{%- set watermark = none %}
{%- if incremental and execute %}
    {%- set watermark = run_query(
        'select max(load_id) from ' ~ events).columns[0].values()[0] %}
{%- endif %}
{%- set gap_ms = var('session_inactivity_minutes') | int * 60000 %}
with

{% if incremental -%}
-- a literal, so the filter reaches the raw scan and only these rows are parsed
batch as (
    select staged.*
    from {{ ref('stg_events__events') }} as staged
    where
        staged.event_date <= {{ run_date() }}
        and (
            staged.event_date >= {{ lookback_start_date() }}
            or staged.drop_date >= {{ lookback_start_date() }}
            {%- if watermark is none %}
            or true
            {%- else %}
            or staged.load_id > '{{ watermark }}'
            {%- endif %}
        )
),

-- stored rows the replay rule deletes (macro replace_partitions)
removed as (
    select * from {{ events }} as stored
    where
        event_date >= {{ lookback_start_date() }}
        or drop_date > {{ run_date() }}
),

-- stored versions of batch rows dated before that window (a late event of a
-- recent drop, a reloaded or late-imported one): replaced too. Small sets are
-- built first, so the history is only scanned, never joined whole.
late_ids as (
    select event_id from batch
    where event_date < {{ lookback_start_date() }}
),

-- (only the columns the session bookkeeping needs: a narrow scan)
late_stored as (
    select
        event_id,
        actor_id,
        event_ms,
        is_derived_session,
        session_key
    from {{ events }} as stored
    where
        event_date < {{ lookback_start_date() }}
        and drop_date <= {{ run_date() }}
        and event_id in (select late_ids.event_id from late_ids)
),

replaced as (
    select
        event_id,
        actor_id,
        event_ms,
        is_derived_session,
        session_key
    from removed
    union all
    select * from late_stored
),

-- earliest changed sessionless event per actor
changed_actors as (
    select
        actor_id,
        min(event_ms) as first_changed_ms
    from (
        select actor_id, event_ms from batch
        where source_session_id is null
        union all
        select actor_id, event_ms from replaced
        where is_derived_session
    ) as changes
    group by actor_id
),

-- stored sessionless events of those actors that stay unless re-sessionized
kept_candidates as (
    select
        stored.*,
        changed_actors.first_changed_ms
    from {{ events }} as stored
    inner join changed_actors on stored.actor_id = changed_actors.actor_id
    where
        stored.is_derived_session
        and stored.event_date < {{ lookback_start_date() }}
        and stored.drop_date <= {{ run_date() }}
),

kept as (
    select kept_candidates.*
    from kept_candidates
    left join late_ids on kept_candidates.event_id = late_ids.event_id
    where late_ids.event_id is null
),

-- the kept event just before the first change, when within the gap: its
-- session goes on into the changed events, so it is rebuilt from its start
previous as (
    select
        actor_id,
        session_id,
        row_number() over (
            partition by actor_id order by event_ms desc, event_id desc
        ) as recency
    from kept
    where
        event_ms < first_changed_ms
        and event_ms >= first_changed_ms - {{ gap_ms }}
),

restart as (
    select
        changed_actors.actor_id,
        coalesce(
            cast(previous.session_id as bigint),
            changed_actors.first_changed_ms
        ) as restart_ms
    from changed_actors
    left join previous
        on
            changed_actors.actor_id = previous.actor_id
            and previous.recency = 1
),

resessioned as (
    select
        {{ staged_event_columns('kept') }},
        kept.session_key
    from kept
    inner join restart on kept.actor_id = restart.actor_id
    where kept.event_ms >= restart.restart_ms
),

sessionless as (
    select event_id, actor_id, event_ms from batch
    where source_session_id is null
    union all
    select event_id, actor_id, event_ms from resessioned
),

derived as (
    {{ inactivity_sessions('sessionless') }}
),

upserts as (
    select
        {{ staged_event_columns('batch') }},
        coalesce(batch.source_session_id, derived.session_id) as session_id,
        batch.source_session_id is null as is_derived_session
    from batch
    left join derived on batch.event_id = derived.event_id
    union all
    select
        {{ staged_event_columns('resessioned') }},
        derived.session_id,
        true as is_derived_session
    from resessioned
    inner join derived on resessioned.event_id = derived.event_id
),

changes as (
    select
        upserts.*,
        upserts.actor_id || ':' || upserts.session_id as session_key,
        old.session_key as old_session_key,
        true as is_upsert
    from upserts
    left join (
        select event_id, session_key from replaced
        union all
        select event_id, session_key from resessioned
    ) as old on upserts.event_id = old.event_id
    union all
    -- removed by the replay rule and not written again (arrived after D)
    select
        {{ staged_event_columns('removed') }},
        removed.session_id,
        removed.is_derived_session,
        removed.session_key,
        removed.session_key as old_session_key,
        false as is_upsert
    from removed
    where not exists (
        select 1 from batch where batch.event_id = removed.event_id
    )
),

{%- if sessions is not none %}
-- the start date the touched stored sessions had: activity days to rebuild
old_session_dates as (
    select
        stored_sessions.session_key,
        cast(stored_sessions.started_at as date) as session_date
    from {{ sessions }} as stored_sessions
    inner join (
        select distinct old_session_key from changes
        where old_session_key is not null
    ) as touched on stored_sessions.session_key = touched.old_session_key
),
{%- endif %}

final as (
    select
        changes.*,
        {%- if sessions is not none %}
        old_session_dates.session_date as old_session_date
        {%- else %}
        cast(null as date) as old_session_date
        {%- endif %}
    from changes
    {%- if sessions is not none %}
    left join old_session_dates
        on changes.old_session_key = old_session_dates.session_key
    {%- endif %}
)

select * from final
{%- else %}
final as (
    select
        {{ staged_event_columns() }},
        cast(null as {{ dbt.type_string() }}) as session_id,
        cast(null as boolean) as is_derived_session,
        cast(null as {{ dbt.type_string() }}) as session_key,
        cast(null as {{ dbt.type_string() }}) as old_session_key,
        cast(null as boolean) as is_upsert,
        cast(null as date) as old_session_date
    from {{ ref('stg_events__events') }}
    where false
)

select * from final
{%- endif %}
