-- Solapi delivery reports, one row per message_id (latest report): status
-- classes and custom fields.
with

source as (
    select * from {{ source('messaging', 'message_reports') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by message_id
            order by date_updated desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

typed as (
    select
        message_id,
        group_id,
        upper(trim(type)) as message_type,
        {{ normalize_phone('"to"') }} as recipient_phone,
        trim(cast(status_code as {{ dbt.type_string() }})) as status_code,
        status_message,
        coalesce(replacement, false) as is_fallback,
        {{ to_business_timestamp('date_created') }} as created_at,
        {{ to_business_timestamp('date_processed') }} as processed_at,
        {{ to_business_timestamp('date_reported') }} as reported_at,
        {{ to_business_timestamp('date_updated') }} as updated_at,
        case when left(trim(custom_fields), 1) = '{' then custom_fields end
            as custom_fields
    from latest
    where version_rank = 1
),

final as (
    select
        message_id,
        group_id,
        message_type,
        recipient_phone,
        status_code,
        status_message,
        status_code in (
            {{ quoted_list(var('message_delivered_status_codes')) }}
        ) as is_delivered,
        status_code in (
            {{ quoted_list(var('message_pending_status_codes')) }}
        ) as is_pending,
        status_code in (
            {{ quoted_list(var('message_opt_out_status_codes')) }}
        ) as is_opt_out_rejection,
        is_fallback,
        created_at,
        processed_at,
        reported_at,
        updated_at,
        {{ json_extract_text('custom_fields', 'campaign_id') }} as campaign_id,
        {{ json_extract_text('custom_fields', 'variant') }} as variant,
        {{ json_extract_text('custom_fields', 'customer_id') }} as customer_id,
        {{ safe_cast_date(json_extract_text('custom_fields', 'run_date')) }}
            as run_date,
        {{ json_extract_text('custom_fields', 'idempotency_key') }}
            as idempotency_key
    from typed
)

select * from final
