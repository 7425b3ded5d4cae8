{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_activity_since() }}",
        on_schema_change='append_new_columns',
    )
}}
-- Engagement of each member per session day: sessions, product views, cart
-- adds, message clicks. Incremental: the days from the earliest session the
-- night's changed events touch (macro event_changes_since) are rebuilt.
-- depends_on: {{ ref('int_events_this_run') }}
{%- set since = event_changes_since() if is_incremental() else none %}
{#- nothing changed: nothing to rebuild #}
{%- set since_filter = 'true' %}
{%- if is_incremental() %}
    {%- set since_filter = 'session_date >= '
        ~ (since if since is not none else 'null') %}
{%- endif %}
with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    where
        member_id is not null
        and {{ since_filter }}
),

final as (
    select
        member_id as customer_id,
        session_date as activity_date,
        count(*) as sessions,
        sum(product_views) as product_views,
        sum(cart_adds) as cart_adds,
        count(case when is_message_click then 1 end) as message_clicks
    from sessions
    group by member_id, session_date
)

select * from final
