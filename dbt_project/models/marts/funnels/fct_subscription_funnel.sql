-- Subscription funnel as of run_date by remaining-deliveries bucket (source doc
-- 000, "fresh plan"): plans, active plans, auto-renewal on, ended plans and how
-- many of those were renewed (the member started another plan afterwards).
with

subscriptions as (
    select * from {{ storefront_ref('subscriptions') }}
    where cast(created_at as date) <= {{ run_date() }}
),

renewals as (
    select
        earlier.subscription_id,
        count(later.subscription_id) > 0 as is_renewed
    from subscriptions as earlier
    left join subscriptions as later
        on
            earlier.member_id = later.member_id
            and earlier.subscription_id <> later.subscription_id
            and earlier.start_date <= later.start_date
            and earlier.created_at < later.created_at
    group by earlier.subscription_id
),

bucketed as (
    select
        subscriptions.subscription_id,
        subscriptions.member_id,
        subscriptions.subscription_state,
        subscriptions.has_auto_renewal,
        renewals.is_renewed,
        case
            when subscriptions.remaining_deliveries <= 0 then '0'
            when subscriptions.remaining_deliveries = 1 then '1'
            when subscriptions.remaining_deliveries = 2 then '2'
            when subscriptions.remaining_deliveries <= 4 then '3-4'
            else '5+'
        end as remaining_bucket,
        case
            when subscriptions.remaining_deliveries <= 0 then 0
            when subscriptions.remaining_deliveries = 1 then 1
            when subscriptions.remaining_deliveries = 2 then 2
            when subscriptions.remaining_deliveries <= 4 then 3
            else 4
        end as bucket_order
    from subscriptions
    inner join renewals
        on subscriptions.subscription_id = renewals.subscription_id
),

counted as (
    select
        remaining_bucket,
        bucket_order,
        count(*) as subscriptions,
        count(distinct member_id) as members,
        count(case when subscription_state = 'active' then 1 end) as active,
        count(
            case
                when subscription_state = 'active' and has_auto_renewal then 1
            end
        ) as active_auto_renewal,
        count(case when subscription_state <> 'active' then 1 end) as ended,
        count(
            case when subscription_state <> 'active' and is_renewed then 1 end
        ) as renewed
    from bucketed
    group by remaining_bucket, bucket_order
),

final as (
    select
        *,
        {{ safe_divide('renewed', 'ended') }} as renewal_rate,
        {{ run_date() }} as run_date
    from counted
)

select * from final
