-- Members, one row per member_id (latest version), contacts normalised,
-- consents as booleans, KST times.
with

source as (
    select * from {{ source('cafe24', 'customers') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by member_id
            order by updated_date desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

renamed as (
    select
        member_id,
        nullif(trim(name), '') as customer_name,
        {{ normalize_phone('cellphone') }} as phone,
        nullif(lower(trim(email)), '') as email,
        case upper(trim(gender)) when 'M' then 'M' when 'F' then 'F' end
            as gender,
        {{ safe_cast_date('birthday') }} as birth_date,
        nullif(trim(address1), '') as address,
        {{ region_from_address('address1') }} as region,
        {{ to_business_timestamp('created_date') }} as signed_up_at,
        {{ to_business_timestamp('updated_date') }} as updated_at,
        {{ to_business_timestamp('last_login_date') }} as last_login_at,
        {{ flag_to_boolean('sms', default=false) }} as consent_sms,
        {{ flag_to_boolean('news_mail', default=false) }} as consent_email,
        {{ flag_to_boolean('kakao_consent', default=false) }} as consent_kakao,
        {{ flag_to_boolean('push_consent', default=false) }} as consent_push,
        {{ flag_to_boolean('night_consent', default=false) }} as consent_night,
        {{ to_business_timestamp('sms_consent_date') }} as consent_sms_at,
        {{ to_business_timestamp('news_mail_consent_date') }}
            as consent_email_at,
        {{ to_business_timestamp('kakao_consent_date') }} as consent_kakao_at,
        {{ to_business_timestamp('push_consent_date') }} as consent_push_at,
        {{ to_business_timestamp('night_consent_date') }} as consent_night_at
    from latest
    where version_rank = 1
),

final as (
    select
        *,
        {{ is_valid_korean_mobile('phone') }} as has_valid_phone,
        cast(signed_up_at as date) as signed_up_date
    from renamed
)

select * from final
