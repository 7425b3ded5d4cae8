-- Every customer known at the end of run_date: members (signed up by then) and
-- guest buyers (keyed by phone, docs/data_model.md), with contacts and
-- advertising consents. Guests have no consents.
with

members as (
    select * from {{ storefront_ref('customers') }}
),

orders as (
    select * from {{ storefront_ref('orders') }}
    where order_date <= {{ run_date() }}
),

ranked_orders as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by ordered_at desc, order_id desc
        ) as recency_rank,
        min(order_date) over (partition by customer_id) as first_order_date
    from orders
),

guest_orders as (
    select * from ranked_orders
    where not is_member_order
),

member_rows as (
    select
        member_id as customer_id,
        member_id,
        true as is_member,
        customer_name,
        phone,
        has_valid_phone,
        email,
        gender,
        birth_date,
        region,
        signed_up_at,
        signed_up_date as first_seen_date,
        -- a login after run_date has not happened yet
        case
            when cast(last_login_at as date) <= {{ run_date() }}
                then last_login_at
        end as last_login_at,
        {{ consent_columns() }}
    from members
    where signed_up_date <= {{ run_date() }}
),

guest_rows as (
    select
        customer_id,
        cast(null as {{ dbt.type_string() }}) as member_id,
        false as is_member,
        buyer_name as customer_name,
        buyer_phone as phone,
        buyer_has_valid_phone as has_valid_phone,
        buyer_email as email,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as timestamp) as signed_up_at,
        first_order_date as first_seen_date,
        cast(null as timestamp) as last_login_at,
        false as consent_sms,
        false as consent_kakao,
        false as consent_email,
        false as consent_push,
        false as consent_night,
        cast(null as timestamp) as consent_sms_at,
        cast(null as timestamp) as consent_kakao_at,
        cast(null as timestamp) as consent_email_at,
        cast(null as timestamp) as consent_push_at,
        cast(null as timestamp) as consent_night_at
    from guest_orders
    where recency_rank = 1
),

-- members seen only on orders (profile not extracted yet) still count, without
-- contacts or consents
orphan_member_rows as (
    select
        member_id as customer_id,
        member_id,
        true as is_member,
        buyer_name as customer_name,
        cast(null as {{ dbt.type_string() }}) as phone,
        false as has_valid_phone,
        cast(null as {{ dbt.type_string() }}) as email,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as timestamp) as signed_up_at,
        first_order_date as first_seen_date,
        cast(null as timestamp) as last_login_at,
        false as consent_sms,
        false as consent_kakao,
        false as consent_email,
        false as consent_push,
        false as consent_night,
        cast(null as timestamp) as consent_sms_at,
        cast(null as timestamp) as consent_kakao_at,
        cast(null as timestamp) as consent_email_at,
        cast(null as timestamp) as consent_push_at,
        cast(null as timestamp) as consent_night_at
    from ranked_orders
    where
        is_member_order
        and recency_rank = 1
        and not exists (
            select 1 from members
            where members.member_id = ranked_orders.member_id
        )
),

final as (
    select * from member_rows
    union all
    select * from guest_rows
    union all
    select * from orphan_member_rows
)

select * from final
