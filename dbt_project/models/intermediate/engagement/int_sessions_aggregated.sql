{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_touched_sessions() }}",
        on_schema_change='append_new_columns',
    )
}}
-- Sessions (actor × session id, see int_events_sessionized) with events by the
-- end of run_date: acquisition channel from the session_start properties, else
-- from the first event when it carries page context (utm/referrer/page_url),
-- else unknown; the member if any event of the session was logged in; the user
-- (member, else actor) for distinct-user counts; funnel step flags.
-- Incremental: rebuilds only the sessions int_events_this_run touches (old and
-- new session keys of the night's changed events), from their events in the
-- event history; a nightly run equals a full refresh.
-- depends_on: {{ ref('int_events_this_run') }}
{%- set since = event_changes_since() if is_incremental() else none %}
with

events as (
    select events.*
    from {{ ref('int_events_sessionized') }} as events
    {%- if is_incremental() %}
    inner join (
        select session_key from {{ ref('int_events_this_run') }}
        where is_upsert
        union
        select old_session_key from {{ ref('int_events_this_run') }}
        where old_session_key is not null
    ) as touched on events.session_key = touched.session_key
    {%- if since is not none %}
    where events.event_date >= {{ since }}
    {%- endif %}
    {%- endif %}
),

session_starts as (
    select
        session_key,
        acquisition_channel,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        referrer,
        row_number() over (
            partition by session_key order by event_at, event_id
        ) as start_rank
    from events
    where event_type = 'session_start'
),

first_events as (
    select
        session_key,
        platform,
        city,
        has_page_context,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        referrer,
        row_number() over (
            partition by session_key order by event_at, event_id
        ) as event_rank
    from events
),

aggregated as (
    select
        session_key,
        min(actor_id) as actor_id,
        min(device_id) as device_id,
        min(session_id) as session_id,
        -- derived by inactivity (the source had no session id)
        min(case when is_derived_session then 1 else 0 end) = 1
            as is_derived_session,
        min(member_id) as member_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        count(*) as event_count,
        count(case when event_type = 'page_view' then 1 end) as page_views,
        count(case when event_type = 'view_item' then 1 end) as product_views,
        count(case when event_type = 'add_to_cart' then 1 end) as cart_adds,
        count(case when event_type = 'begin_checkout' then 1 end)
            as checkouts,
        count(case when event_type = 'purchase' then 1 end) as purchases,
        count(case when event_type = 'coupon_page_view' then 1 end)
            as coupon_page_views,
        count(case when event_type = 'search' then 1 end) as searches,
        count(case when event_type = 'sign_up' then 1 end) as sign_ups
    from events
    group by session_key
),

final as (
    select
        aggregated.session_key,
        aggregated.actor_id,
        aggregated.device_id,
        aggregated.session_id,
        aggregated.is_derived_session,
        aggregated.member_id,
        -- one user: the member when logged in, else the device/anonymous id
        coalesce(
            'member:' || aggregated.member_id, aggregated.actor_id
        ) as user_key,
        aggregated.started_at,
        cast(aggregated.started_at as date) as session_date,
        aggregated.ended_at,
        first_events.platform,
        first_events.city,
        -- without a session_start, the first event's page context decides by
        -- the same rule; a session with neither has an unknown channel
        case
            when session_starts.session_key is not null
                then session_starts.acquisition_channel
            when first_events.has_page_context
                then {{ acquisition_channel(
                    'first_events.utm_source',
                    'first_events.utm_medium',
                    'first_events.referrer'
                ) }}
            else 'unknown'
        end as acquisition_channel,
        {%- for col in ['utm_source', 'utm_medium', 'utm_campaign',
                        'utm_content', 'referrer'] %}
        case
            when session_starts.session_key is not null
                then session_starts.{{ col }}
            else first_events.{{ col }}
        end as {{ col }},
        {%- endfor %}
        coalesce(
            case
                when session_starts.session_key is not null
                    then session_starts.utm_source
                else first_events.utm_source
            end = '{{ var("crm_utm_source") }}',
            false
        ) as is_message_click,
        aggregated.event_count,
        aggregated.page_views,
        aggregated.product_views,
        aggregated.cart_adds,
        aggregated.checkouts,
        aggregated.purchases,
        aggregated.coupon_page_views,
        aggregated.searches,
        aggregated.sign_ups,
        aggregated.product_views > 0 as has_product_view,
        aggregated.cart_adds > 0 as has_cart_add,
        aggregated.checkouts > 0 as has_checkout,
        aggregated.purchases > 0 as has_purchase
    from aggregated
    left join session_starts
        on
            aggregated.session_key = session_starts.session_key
            and session_starts.start_rank = 1
    inner join first_events
        on
            aggregated.session_key = first_events.session_key
            and first_events.event_rank = 1
)

select * from final
