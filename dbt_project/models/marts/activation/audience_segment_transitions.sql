-- Customers whose G1–G4 segment changed on run_date (vs the day before, both
-- from data); new customers (no segment the day before) are not transitions and
-- are left to the sign-up campaigns.
with

customers as (
    select * from {{ ref('dim_customers') }}
),

transitions as (
    select * from {{ ref('fct_segment_transitions') }}
    where transition_date = {{ run_date() }} and not is_new_customer
),

final as (
    select
        {{ audience_columns('customers') }},
        transitions.from_segment,
        transitions.to_segment,
        transitions.transition_date
    from transitions
    inner join customers on transitions.customer_id = customers.customer_id
)

select * from final
