-- Shopify customers as members, one row per customer id (latest version), in
-- the columns of stg_cafe24__customers: E.164 phones to national digits,
-- marketing consent states as booleans, KST times. Shopify has no gender,
-- birthday, last login, or KakaoTalk/push/night consent (docs/dbt.md).
with

source as (
    select * from {{ source('shopify', 'customers') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by id
            order by updated_at desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as member_id,
        -- Korean order: family name (last_name) first, no space
        nullif(
            trim(coalesce(last_name, '') || coalesce(first_name, '')), ''
        ) as customer_name,
        {{ normalize_e164_korean_phone('phone') }} as phone,
        nullif(lower(trim(email)), '') as email,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as date) as birth_date,
        nullif(trim(default_address__address1), '') as address,
        coalesce(
            nullif(trim(default_address__province), ''),
            {{ region_from_address('default_address__address1') }}
        ) as region,
        {{ to_business_timestamp('created_at') }} as signed_up_at,
        {{ to_business_timestamp('updated_at') }} as updated_at,
        cast(null as timestamp) as last_login_at,
        -- only an explicit `subscribed` is consent (not pending, unsubscribed,
        -- redacted, invalid or missing)
        coalesce(
            lower(trim(sms_marketing_consent__state)) = 'subscribed', false
        ) as consent_sms,
        coalesce(
            lower(trim(email_marketing_consent__state)) = 'subscribed', false
        ) as consent_email,
        -- no dated source for these in Shopify: never assumed (customer tags
        -- carry no consent date, so the two-year re-confirmation could not
        -- apply)
        false as consent_kakao,
        false as consent_push,
        false as consent_night,
        {{ to_business_timestamp('sms_marketing_consent__consent_updated_at') }}
            as consent_sms_at,
        {{ to_business_timestamp(
            'email_marketing_consent__consent_updated_at'
        ) }} as consent_email_at,
        cast(null as timestamp) as consent_kakao_at,
        cast(null as timestamp) as consent_push_at,
        cast(null as timestamp) as consent_night_at
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
