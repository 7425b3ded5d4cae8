-- Shopify orders, one row per order id (latest version), in the columns of
-- stg_cafe24__orders: customer key (Shopify customer id, or the guest phone
-- hash), status group from cancelled_at / financial_status, refunds summed
-- from the refunds JSON, KST timestamps.
with

source as (
    select * from {{ source('shopify', 'orders') }}
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

current_orders as (
    select * from latest
    where version_rank = 1
),

refund_rows as (
    select
        current_orders.id as order_key,
        {{ json_extract_text('refund.value', 'created_at') }}
            as refund_created_at,
        {{ json_extract_json('refund.value', 'transactions') }}
            as refund_transactions
    from current_orders
    {{ json_array_elements_join('current_orders.refunds', 'refund') }}
    where left(trim(current_orders.refunds), 1) = '['
),

refund_transactions as (
    select
        refund_rows.order_key,
        refund_rows.refund_created_at,
        lower({{ json_extract_text('txn.value', 'kind') }}) as kind,
        lower({{ json_extract_text('txn.value', 'status') }}) as status,
        {{ safe_cast_numeric(json_extract_text('txn.value', 'amount')) }}
            as amount
    from refund_rows
    {{ json_array_elements_join('refund_rows.refund_transactions', 'txn') }}
),

-- several refunds of one order are summed and dated by the last of them (the
-- order has one refund amount and date, as in Cafe24)
refunds as (
    select
        order_key,
        {{ shop_money_major('sum(amount)') }} as refund_amount_krw,
        max({{ to_business_timestamp('refund_created_at') }}) as refund_date_at
    from refund_transactions
    where kind = 'refund' and status = 'success'
    group by order_key
),

typed as (
    select
        cast(current_orders.id as {{ dbt.type_string() }}) as order_id,
        cast(current_orders.customer__id as {{ dbt.type_string() }})
            as member_id,
        -- the extracted order carries no billing name
        cast(null as {{ dbt.type_string() }}) as buyer_name,
        {{ normalize_e164_korean_phone('current_orders.phone') }}
            as buyer_phone,
        nullif(lower(trim(current_orders.email)), '') as buyer_email,
        {{ to_business_timestamp('current_orders.created_at') }} as ordered_at,
        -- pending and voided orders were never paid
        case
            when
                lower(current_orders.financial_status)
                not in ('pending', 'voided', 'authorized')
                then {{ to_business_timestamp('current_orders.processed_at') }}
        end as paid_at,
        upper(coalesce(current_orders.currency, 'KRW')) as currency,
        {{ shop_money_major(
            'coalesce(current_orders.total_line_items_price, 0)'
        ) }} as items_amount_krw,
        {{ shop_money_major(
            'coalesce(current_orders.total_shipping_price_set__shop_money__amount, 0)'
        ) }} as shipping_fee_krw,
        {{ shop_money_major('coalesce(current_orders.total_discounts, 0)') }}
            as discount_krw,
        {{ shop_money_major('coalesce(current_orders.total_price, 0)') }}
            as payment_amount_krw,
        lower(trim(current_orders.financial_status)) as order_status,
        {{ to_business_timestamp('current_orders.cancelled_at') }}
            as cancelled_at,
        coalesce(refunds.refund_amount_krw, 0) as refund_amount_krw,
        refunds.refund_date_at,
        {{ shopify_has_tag('current_orders.tags', 'first_order') }}
            as is_first_order_flag,
        case
            when current_orders.source_name is not null
                then
                    lower(current_orders.source_name)
                    in ('mobile_web', 'iphone', 'android')
        end as is_mobile_order,
        -- our message links land on
        -- `?utm_source=<crm_utm_source>&utm_campaign=<id>`
        case
            when {{ regexp_contains(
                'current_orders.landing_site',
                '[?&]utm_source=' ~ var('crm_utm_source') ~ '(&|$)'
            ) }}
                then nullif({{ dbt.split_part(
                    dbt.split_part(
                        'current_orders.landing_site', "'utm_campaign='", 2
                    ),
                    "'&'",
                    1
                ) }}, '')
        end as utm_campaign,
        {{ to_business_timestamp('current_orders.updated_at') }} as updated_at,
        current_orders._dlt_load_id as load_id
    from current_orders
    left join refunds on current_orders.id = refunds.order_key
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
        case
            when cancelled_at is not null then 'cancel'
            when
                refund_amount_krw > 0
                or order_status in ('refunded', 'partially_refunded')
                then 'refund'
            when
                order_status in (
                    'pending', 'authorized', 'partially_paid', 'paid'
                )
                then 'normal'
            else 'unknown'
        end as order_status_group,
        cancelled_at,
        refund_amount_krw,
        case
            when refund_amount_krw > 0 then coalesce(refund_date_at, updated_at)
        end as refunded_at,
        -- fulfillments (with their dates) are not extracted: shipping and
        -- delivery times are unknown in Shopify mode
        cast(null as timestamp) as shipped_at,
        cast(null as timestamp) as delivered_at,
        is_first_order_flag,
        is_mobile_order,
        utm_campaign,
        updated_at,
        load_id
    from typed
)

select * from final
