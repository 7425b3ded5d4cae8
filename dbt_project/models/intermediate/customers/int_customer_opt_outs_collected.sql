-- Channel-wide opt-outs known by the end of run_date, per phone: Solapi
-- rejected a message because the number is on the 080 opt-out list (status
-- 1061/2061).
with

reports as (
    select * from {{ ref('stg_messaging__message_reports') }}
    where
        is_opt_out_rejection
        and recipient_phone is not null
        and cast(created_at as date) <= {{ run_date() }}
),

final as (
    select
        recipient_phone as phone,
        min(created_at) as first_opt_out_at,
        count(*) as opt_out_rejections
    from reports
    group by recipient_phone
)

select * from final
