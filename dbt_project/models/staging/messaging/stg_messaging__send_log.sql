-- The activation ledger export, one row per intent (latest version): every
-- planned message, including suppressed, holdout and control rows, with its
-- campaign goal (docs/campaigns.md).
with

source as (
    select * from {{ source('messaging', 'send_log') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by intent_id
            order by updated_at desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

final as (
    select
        intent_id,
        idempotency_key,
        run_id,
        cast(run_date as date) as run_date,
        campaign_id,
        step,
        customer_id,
        member_id,
        segment as planned_segment,
        tier as planned_tier,
        lower(trim(channel)) as channel,
        destination,
        message_kind,
        upper(trim(message_type)) as message_type,
        coalesce(nullif(trim(variant), ''), 'default') as variant,
        coalesce(is_holdout, false) as is_holdout,
        coalesce(is_control, false) as is_control,
        lower(trim(status)) as send_status,
        reason,
        held,
        lower(coalesce(nullif(trim(goal_event), ''), 'purchase')) as goal_event,
        attribution_days,
        {{ to_business_timestamp('planned_send_at') }} as planned_send_at,
        {{ to_business_timestamp('send_at') }} as send_at,
        {{ to_business_timestamp('sent_at') }} as sent_at,
        nullif(trim(message_id), '') as message_id,
        trim(provider_status_code) as provider_status_code,
        replacement as is_replacement,
        coalesce(attempts, 0) as attempts,
        cast(coalesce(cost_krw, 0) as decimal(18, 2)) as cost_krw,
        {{ to_business_timestamp('created_at') }} as created_at,
        {{ to_business_timestamp('updated_at') }} as updated_at
    from latest
    where version_rank = 1
)

select * from final
