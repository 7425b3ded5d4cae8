-- The inflow funnel accounts for every session of the recomputed days exactly
-- once.
with

funnel as (
    select
        funnel_date,
        sum(sessions) as sessions
    from {{ ref('fct_inflow_funnel_daily') }}
    where funnel_date >= {{ lookback_start_date() }}
    group by funnel_date
),

sessions as (
    select
        session_date,
        count(*) as sessions
    from {{ ref('int_sessions_aggregated') }}
    where session_date >= {{ lookback_start_date() }}
    group by session_date
),

final as (
    select
        funnel.sessions as funnel_sessions,
        sessions.sessions as actual_sessions,
        coalesce(funnel.funnel_date, sessions.session_date) as funnel_date
    from funnel
    full outer join sessions on funnel.funnel_date = sessions.session_date
    where
        funnel.sessions is null
        or sessions.sessions is null
        or funnel.sessions <> sessions.sessions
)

select * from final
