-- Inflow funnel per day, ISO week (Monday) and calendar month x acquisition
-- channel, with distinct users per step: the counts that cannot be summed from
-- fct_inflow_funnel_daily (a user who comes back on two days is one user of the
-- week). Rows with acquisition_channel 'all' count users across channels (a
-- user who came through two channels is one); never add them to the channel
-- rows. Sessions count sessions started in the period. A table rebuilt from
-- every session up to run_date, so a replayed date gives the same rows; the
-- period holding run_date is partial (is_complete false).
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
    where session_date <= {{ run_date() }}
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
    group by period_grain, period_start, period_end, acquisition_channel
)

select * from final
