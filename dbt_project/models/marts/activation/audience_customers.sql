-- Everyone reachable on run_date (a valid mobile number or an e-mail address),
-- for scheduled segment/tier campaigns and the Channel Talk sync. Consent and
-- opt-out are columns: activation applies them per channel and message kind
-- (informational messages need no advertising consent).
with

customers as (
    select * from {{ ref('dim_customers') }}
    where has_valid_phone or email is not null
),

final as (
    select
        {{ audience_columns('customers') }},
        customers.acquisition_channel,
        customers.order_count,
        customers.net_revenue_krw,
        customers.last_order_at,
        customers.days_since_last_order,
        customers.cart_adds_30d,
        customers.sessions_30d,
        customers.interest_score,
        customers.conversion_score,
        customers.subscription_state,
        customers.is_consent_reconfirmation_due
    from customers
)

select * from final
