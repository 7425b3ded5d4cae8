-- Orders, one row per order_id (latest version): customer key, status group,
-- cancel/refund times in KST.
with

source as (
    select * from {{ source('cafe24', 'orders') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by order_id
            order by updated_date desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

typed as (
    select
        order_id,
        nullif(trim(member_id), '') as member_id,
        nullif(trim(buyer_name), '') as buyer_name,
        {{ normalize_phone('buyer_cellphone') }} as buyer_phone,
        nullif(lower(trim(buyer_email)), '') as buyer_email,
        {{ to_business_timestamp('order_date') }} as ordered_at,
        {{ to_business_timestamp('payment_date') }} as paid_at,
        upper(coalesce(currency, 'KRW')) as currency,
        {{ shop_money('coalesce(order_price_amount, 0)') }} as items_amount_krw,
        {{ shop_money('coalesce(shipping_fee, 0)') }} as shipping_fee_krw,
        {{ shop_money('coalesce(coupon_discount_price, 0)') }} as discount_krw,
        {{ shop_money('coalesce(payment_amount, 0)') }} as payment_amount_krw,
        upper(trim(order_status)) as order_status,
        {{ flag_to_boolean('canceled', default=false) }} as is_canceled_flag,
        {{ to_business_timestamp('cancel_date') }} as cancel_date_at,
        {{ shop_money('coalesce(refund_amount, 0)') }} as refund_amount_krw,
        {{ to_business_timestamp('refund_date') }} as refund_date_at,
        {{ to_business_timestamp('shipbegin_date') }} as shipped_at,
        {{ to_business_timestamp('shipend_date') }} as delivered_at,
        {{ flag_to_boolean('first_order') }} as is_first_order_flag,
        {{ flag_to_boolean('order_from_mobile') }} as is_mobile_order,
        nullif(trim(utm_campaign), '') as utm_campaign,
        {{ to_business_timestamp('updated_date') }} as updated_at,
        _dlt_load_id as load_id
    from latest
    where version_rank = 1
),

final as (
    select
        order_id,
        coalesce(
            member_id, {{ guest_customer_id('buyer_phone', 'order_id') }}
        ) as customer_id,
        member_id,
        member_id is not null as is_member_order,
        buyer_name,
        buyer_phone,
        {{ is_valid_korean_mobile('buyer_phone') }} as buyer_has_valid_phone,
        buyer_email,
        ordered_at,
        cast(ordered_at as date) as order_date,
        paid_at,
        currency,
        items_amount_krw,
        shipping_fee_krw,
        discount_krw,
        payment_amount_krw,
        order_status,
        case left(order_status, 1)
            when 'N' then 'normal'
            when 'C' then 'cancel'
            when 'R' then 'refund'
            when 'E' then 'exchange'
            else 'unknown'
        end as order_status_group,
        -- cancelled when flagged or in a C status; dated by cancel_date (else
        -- the last update)
        case
            when is_canceled_flag or left(order_status, 1) = 'C'
                then coalesce(cancel_date_at, updated_at)
        end as cancelled_at,
        refund_amount_krw,
        case
            when refund_amount_krw > 0 then coalesce(refund_date_at, updated_at)
        end as refunded_at,
        shipped_at,
        delivered_at,
        is_first_order_flag,
        is_mobile_order,
        utm_campaign,
        updated_at,
        load_id
    from typed
)

select * from final
