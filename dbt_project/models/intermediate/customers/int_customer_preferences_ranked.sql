-- Preferred product and category of each customer as of run_date: most units
-- bought (non-cancelled orders), then most cart adds, then most product views
-- in the engagement window, then most recent.
with

items as (
    select * from {{ ref('int_order_items_joined') }}
    where not is_cancelled
),

events as (
    select * from {{ ref('int_events_sessionized') }}
    where
        event_type in ('view_item', 'add_to_cart')
        and product_no is not null
        and event_date <= {{ run_date() }}
        and event_date > {{ run_date_minus(var('engagement_window_days')) }}
),

sessions as (
    select
        session_key,
        member_id
    from {{ ref('int_sessions_aggregated') }}
    where member_id is not null
),

products as (
    select * from {{ storefront_ref('products') }}
),

purchase_signals as (
    select
        customer_id,
        product_no,
        sum(quantity) as units_bought,
        0 as cart_adds,
        0 as product_views,
        max(ordered_at) as last_interaction_at
    from items
    group by customer_id, product_no
),

browse_signals as (
    select
        sessions.member_id as customer_id,
        events.product_no,
        0 as units_bought,
        count(case when events.event_type = 'add_to_cart' then 1 end)
            as cart_adds,
        count(case when events.event_type = 'view_item' then 1 end)
            as product_views,
        max(events.event_at) as last_interaction_at
    from events
    inner join sessions on events.session_key = sessions.session_key
    group by sessions.member_id, events.product_no
),

signals as (
    select
        customer_id,
        product_no,
        sum(units_bought) as units_bought,
        sum(cart_adds) as cart_adds,
        sum(product_views) as product_views,
        max(last_interaction_at) as last_interaction_at
    from (
        select * from purchase_signals
        union all
        select * from browse_signals
    ) as unioned
    group by customer_id, product_no
),

with_products as (
    select
        signals.*,
        products.product_name,
        products.category_no,
        products.category_name
    from signals
    inner join products on signals.product_no = products.product_no
),

product_ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by
                units_bought desc,
                cart_adds desc,
                product_views desc,
                last_interaction_at desc,
                product_no asc
        ) as product_rank
    from with_products
),

category_totals as (
    select
        customer_id,
        category_no,
        min(category_name) as category_name,
        sum(units_bought) as units_bought,
        sum(cart_adds) as cart_adds,
        sum(product_views) as product_views,
        max(last_interaction_at) as last_interaction_at
    from with_products
    group by customer_id, category_no
),

category_ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by
                units_bought desc,
                cart_adds desc,
                product_views desc,
                last_interaction_at desc,
                category_no asc
        ) as category_rank
    from category_totals
),

-- one row per customer without joining the two rankings (a join of two
-- rank filters misleads PostgreSQL's row estimates into nested loops)
picks as (
    select
        customer_id,
        product_no,
        product_name,
        cast(null as {{ dbt.type_bigint() }}) as category_no,
        cast(null as {{ dbt.type_string() }}) as category_name
    from product_ranked
    where product_rank = 1
    union all
    select
        customer_id,
        cast(null as {{ dbt.type_bigint() }}) as product_no,
        cast(null as {{ dbt.type_string() }}) as product_name,
        category_no,
        category_name
    from category_ranked
    where category_rank = 1
),

final as (
    select
        customer_id,
        max(product_no) as preferred_product_no,
        max(product_name) as preferred_product_name,
        max(category_no) as preferred_category_no,
        max(category_name) as preferred_category_name
    from picks
    group by customer_id
)

select * from final
