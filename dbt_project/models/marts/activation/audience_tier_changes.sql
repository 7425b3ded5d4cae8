-- Customers whose purchase-frequency tier changed on run_date (up or down, vs
-- the day before).
with

customers as (
    select * from {{ ref('dim_customers') }}
),

transitions as (
    select * from {{ ref('fct_tier_transitions') }}
    where transition_date = {{ run_date() }} and not is_new_customer
),

final as (
    select
        {{ audience_columns('customers') }},
        transitions.from_tier,
        transitions.to_tier,
        transitions.is_upgrade,
        transitions.transition_date
    from transitions
    inner join customers on transitions.customer_id = customers.customer_id
)

select * from final
