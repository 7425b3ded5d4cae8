-- Members with an active subscription close to its end: at most
-- renewal_max_remaining_deliveries deliveries left or ending within
-- renewal_days_before_end days (one plan per member: fewest deliveries left,
-- then earliest end). Campaigns pick the moment with remaining_deliveries.
-- renewal_cycle_key names the plan cycle (a renewal adds deliveries to the
-- plan): the reminder's re-entry rule sends once per cycle, although a weekly
-- plan stays at one delivery left for about a week.
with

customers as (
    select * from {{ ref('dim_customers') }}
),

subscriptions as (
    select * from {{ storefront_ref('subscriptions') }}
    where
        subscription_state = 'active'
        and cast(created_at as date) <= {{ run_date() }}
        and (
            remaining_deliveries
            <= {{ var('renewal_max_remaining_deliveries') }}
            or end_date
            <= {{ run_date_minus(-(var('renewal_days_before_end') | int)) }}
        )
),

ranked as (
    select
        *,
        row_number() over (
            partition by member_id
            order by remaining_deliveries, end_date, subscription_id
        ) as pick_rank
    from subscriptions
),

final as (
    select
        {{ audience_columns('customers') }},
        ranked.subscription_id,
        ranked.remaining_deliveries,
        ranked.total_deliveries,
        ranked.subscription_id
        || ':'
        || coalesce(
            cast(ranked.total_deliveries as {{ dbt.type_string() }}),
            cast(ranked.end_date as {{ dbt.type_string() }})
        ) as renewal_cycle_key,
        ranked.end_date,
        ranked.has_auto_renewal
    from ranked
    inner join customers on ranked.member_id = customers.customer_id
    where ranked.pick_rank = 1
)

select * from final
