-- One row per product: catalog attributes, sales and reviews up to run_date,
-- and the hero flag (top hero_product_count products by net item revenue over
-- the engagement window).
{%- set window_days = var('engagement_window_days') | int %}
with

products as (
    select * from {{ storefront_ref('products') }}
    where cast(created_at as date) <= {{ run_date() }} or created_at is null
),

items as (
    select * from {{ ref('int_order_items_joined') }}
    where not is_cancelled
),

reviews as (
    select * from {{ storefront_ref('reviews') }}
    where reviewed_date <= {{ run_date() }}
),

sales as (
    select
        product_no,
        count(distinct order_id) as orders,
        sum(quantity) as units_sold,
        sum(line_amount_krw) as item_revenue_krw,
        sum(
            case
                when order_date > {{ run_date_minus(window_days) }}
                    then line_amount_krw
                else 0
            end
        ) as recent_item_revenue_krw
    from items
    group by product_no
),

review_stats as (
    select
        product_no,
        count(*) as review_count,
        avg(cast(rating as {{ type_double() }})) as avg_rating
    from reviews
    group by product_no
),

joined as (
    select
        products.*,
        review_stats.avg_rating,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.item_revenue_krw, 0) as item_revenue_krw,
        coalesce(sales.recent_item_revenue_krw, 0) as recent_item_revenue_krw,
        coalesce(review_stats.review_count, 0) as review_count
    from products
    left join sales on products.product_no = sales.product_no
    left join review_stats on products.product_no = review_stats.product_no
),

ranked as (
    select
        *,
        row_number() over (
            order by recent_item_revenue_krw desc, product_no asc
        ) as recent_revenue_rank
    from joined
),

final as (
    select
        product_no,
        product_code,
        product_name,
        category_no,
        category_name,
        price_krw,
        is_displayed,
        is_selling,
        created_at,
        orders,
        units_sold,
        item_revenue_krw,
        recent_item_revenue_krw,
        recent_revenue_rank,
        recent_revenue_rank <= {{ var('hero_product_count') }}
        and recent_item_revenue_krw > 0 as is_hero_product,
        review_count,
        cast(round(cast(avg_rating as decimal(18, 4)), 2) as decimal(4, 2))
            as avg_rating,
        review_count >= {{ var('review_target_count') }} as has_review_target,
        {{ run_date() }} as run_date
    from ranked
)

select * from final
