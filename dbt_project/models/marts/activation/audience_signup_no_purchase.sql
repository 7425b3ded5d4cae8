-- Members who signed up between signup_no_purchase_min_days and _max_days ago
-- and have not purchased (no non-cancelled order) by run_date (Channel Talk
-- example: signed up, no purchase for 2 weeks). Campaigns pick the day with
-- days_since_signup.
with

customers as (
    select * from {{ ref('dim_customers') }}
    where
        is_member
        and order_count = 0
        and signed_up_at is not null
),

final as (
    select
        {{ audience_columns('customers') }},
        cast(customers.signed_up_at as date) as signed_up_date,
        {{ days_between('customers.signed_up_at', run_date()) }}
            as days_since_signup
    from customers
    where
        {{ days_between('customers.signed_up_at', run_date()) }}
        between {{ var('signup_no_purchase_min_days') }}
        and {{ var('signup_no_purchase_max_days') }}
)

select * from final
