-- Every customer known by the end of run_date has exactly one segment and one
-- tier on run_date in the history, and dim_customers agrees with it. Returns
-- the customers that break this.
with

customers as (
    select customer_id from {{ ref('int_customers_unioned') }}
),

history as (
    select
        customer_id,
        count(*) as segment_rows,
        min(segment) as segment,
        min(tier) as tier
    from {{ ref('fct_customer_segments_daily') }}
    where segment_date = {{ run_date() }}
    group by customer_id
),

dim as (
    select
        customer_id,
        segment,
        tier
    from {{ ref('dim_customers') }}
),

final as (
    select
        customers.customer_id,
        history.segment as history_segment,
        dim.segment as dim_segment,
        history.tier as history_tier,
        dim.tier as dim_tier,
        coalesce(history.segment_rows, 0) as segment_rows
    from customers
    left join history on customers.customer_id = history.customer_id
    left join dim on customers.customer_id = dim.customer_id
    where
        coalesce(history.segment_rows, 0) <> 1
        or dim.customer_id is null
        or history.segment <> dim.segment
        or history.tier <> dim.tier
)

select * from final
