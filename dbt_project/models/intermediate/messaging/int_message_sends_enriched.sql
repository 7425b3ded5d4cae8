-- Planned messages of campaign runs before run_date (a run's sends go out the
-- day after its data date), with their arm (treatment / holdout / control),
-- goal, and delivery outcome from the Solapi report (else the ledger's provider
-- status).
with

sends as (
    select * from {{ ref('stg_messaging__send_log') }}
    where run_date < {{ run_date() }}
),

reports as (
    select * from {{ ref('stg_messaging__message_reports') }}
    where cast(created_at as date) <= {{ run_date() }}
),

joined as (
    select
        sends.*,
        reports.is_fallback as report_is_fallback,
        reports.message_type as report_message_type,
        coalesce(reports.status_code, sends.provider_status_code)
            as delivery_status_code,
        min(coalesce(sends.sent_at, sends.send_at)) over (
            partition by sends.campaign_id, sends.run_date
        ) as campaign_run_first_send_at
    from sends
    left join reports on sends.message_id = reports.message_id
),

classified as (
    select
        *,
        delivery_status_code in (
            {{ quoted_list(var('message_delivered_status_codes')) }}
        ) as is_delivered_code,
        delivery_status_code in (
            {{ quoted_list(var('message_pending_status_codes')) }}
        ) as is_pending_code
    from joined
),

final as (
    select
        intent_id,
        campaign_id,
        variant,
        run_date as campaign_run_date,
        customer_id,
        channel,
        message_type,
        send_status,
        reason,
        case
            when is_holdout then 'holdout'
            when is_control then 'control'
            else 'treatment'
        end as arm,
        is_holdout,
        is_control,
        send_status = 'suppressed' as is_suppressed,
        not is_holdout and not is_control and (
            sent_at is not null
            or message_id is not null
            or send_status in ('accepted', 'delivered')
        ) as is_sent,
        coalesce(is_delivered_code, send_status = 'delivered') as is_delivered,
        coalesce(
            not is_delivered_code and not is_pending_code,
            send_status = 'failed'
        ) as is_failed,
        coalesce(report_is_fallback, is_replacement, false) as is_fallback,
        delivery_status_code,
        report_message_type,
        goal_event,
        coalesce(attribution_days, {{ var('attribution_window_days') }})
            as attribution_days,
        sent_at,
        message_id,
        cost_krw,
        -- window start: the send; holdout/control rows take the planned send
        -- time (else the run's first send, else the morning after the data
        -- date) so both arms are measured from the same moment
        coalesce(
            sent_at,
            send_at,
            planned_send_at,
            campaign_run_first_send_at,
            cast({{ add_days('run_date', 1) }} as timestamp)
        ) as exposure_at
    from classified
)

select * from final
