-- Subscription state of each member as of run_date: the current plan (an active
-- one first, then the most recently started) and counts over all plans created
-- by then.
with

subscriptions as (
    select * from {{ storefront_ref('subscriptions') }}
    where cast(created_at as date) <= {{ run_date() }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by member_id
            order by
                case when subscription_state = 'active' then 0 else 1 end,
                start_date desc,
                subscription_id desc
        ) as plan_rank,
        count(*) over (partition by member_id) as subscription_count,
        count(case when subscription_state = 'active' then 1 end)
            over (partition by member_id) as active_subscription_count
    from subscriptions
),

final as (
    select
        member_id as customer_id,
        subscription_id as current_subscription_id,
        subscription_state,
        total_deliveries as subscription_total_deliveries,
        remaining_deliveries as subscription_remaining_deliveries,
        has_auto_renewal as subscription_has_auto_renewal,
        end_date as subscription_end_date,
        subscription_count,
        active_subscription_count
    from ranked
    where plan_rank = 1
)

select * from final
