{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_funnel_periods_since() }}",
        on_schema_change='append_new_columns',
    )
}}
-- Inflow funnel per day, ISO week (Monday) and calendar month x acquisition
-- channel, with distinct users per step: the counts that cannot be summed from
-- fct_inflow_funnel_daily (a user who comes back on two days is one user of the
-- week). Rows with acquisition_channel 'all' count users across channels (a
-- user who came through two channels is one); never add them to the channel
-- rows. Sessions count sessions started in the period; the period holding
-- run_date is partial (is_complete false). Incremental: the periods ending on
-- or after the earliest recomputed date (the lookback start, or an earlier
-- date the night's changed events touch: macro funnel_periods_since) are
-- rebuilt from their sessions; a replayed date gives the same rows.
-- depends_on: {{ ref('int_events_this_run') }}
{%- set since = funnel_periods_since() if is_incremental() else none %}
{%- set rebuild_filter = 'true' %}
{%- if since is not none %}
    {%- set rebuild_filter = 'session_date >= least(cast('
        ~ dbt.date_trunc('week', since) ~ ' as date), cast('
        ~ dbt.date_trunc('month', since) ~ ' as date))' %}
{%- endif %}
with

sessions as (
    select
        session_date,
        acquisition_channel,
        user_key,
        has_product_view,
        has_cart_add,
        has_checkout,
        has_purchase
    from {{ ref('int_sessions_aggregated') }}
    where
        session_date <= {{ run_date() }}
        -- every session of a period that ends on or after `since`
        and {{ rebuild_filter }}
),

by_period as (
    select
        'day' as period_grain,
        session_date as period_start,
        session_date as period_end,
        *
    from sessions
    union all
    select
        'week' as period_grain,
        cast({{ dbt.date_trunc('week', 'session_date') }} as date)
            as period_start,
        {{ add_days(
            'cast(' ~ dbt.date_trunc('week', 'session_date') ~ ' as date)', 6
        ) }} as period_end,
        *
    from sessions
    union all
    select
        'month' as period_grain,
        cast({{ dbt.date_trunc('month', 'session_date') }} as date)
            as period_start,
        {{ add_days(
            dbt.dateadd(
                'month', 1,
                'cast(' ~ dbt.date_trunc('month', 'session_date') ~ ' as date)'
            ),
            -1
        ) }} as period_end,
        *
    from sessions
),

channels as (
    select
        period_grain,
        period_start,
        period_end,
        acquisition_channel,
        user_key,
        has_product_view,
        has_cart_add,
        has_checkout,
        has_purchase
    from by_period
    union all
    select
        period_grain,
        period_start,
        period_end,
        'all' as acquisition_channel,
        user_key,
        has_product_view,
        has_cart_add,
        has_checkout,
        has_purchase
    from by_period
),

final as (
    select
        period_grain,
        period_start,
        period_end,
        acquisition_channel,
        period_end <= {{ run_date() }} as is_complete,
        count(*) as sessions,
        count(distinct user_key) as unique_users,
        count(case when has_product_view then 1 end) as product_view_sessions,
        count(distinct case when has_product_view then user_key end)
            as product_view_users,
        count(case when has_cart_add then 1 end) as cart_add_sessions,
        count(distinct case when has_cart_add then user_key end)
            as cart_add_users,
        count(case when has_checkout then 1 end) as checkout_sessions,
        count(distinct case when has_checkout then user_key end)
            as checkout_users,
        count(case when has_purchase then 1 end) as purchase_sessions,
        count(distinct case when has_purchase then user_key end)
            as purchase_users
    from channels
    {%- if since is not none %}
    where period_end >= {{ since }}
    {%- endif %}
    group by period_grain, period_start, period_end, acquisition_channel
)

select * from final
