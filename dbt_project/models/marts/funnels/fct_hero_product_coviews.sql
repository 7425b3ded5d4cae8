-- What viewers of the hero products also viewed (source doc 004: promote what
-- hero-product viewers look at): per hero product, the top coview_top_n other
-- products viewed in the same sessions over the engagement window ending on
-- run_date.
with

heroes as (
    select
        product_no,
        product_name
    from {{ ref('dim_products') }}
    where is_hero_product
),

views as (
    select distinct
        session_key,
        product_no,
        device_id
    from {{ ref('int_events_sessionized') }}
    where
        event_type = 'view_item'
        and product_no is not null
        and event_date <= {{ run_date() }}
        and event_date > {{ run_date_minus(var('engagement_window_days')) }}
),

products as (
    select
        product_no,
        product_name,
        category_name
    from {{ storefront_ref('products') }}
),

hero_sessions as (
    select
        heroes.product_no as hero_product_no,
        heroes.product_name as hero_product_name,
        views.session_key
    from heroes
    inner join views on heroes.product_no = views.product_no
),

hero_view_counts as (
    select
        hero_product_no,
        count(*) as hero_sessions
    from hero_sessions
    group by hero_product_no
),

coviews as (
    select
        hero_sessions.hero_product_no,
        views.product_no as coviewed_product_no,
        min(hero_sessions.hero_product_name) as hero_product_name,
        count(distinct hero_sessions.session_key) as coview_sessions,
        count(distinct views.device_id) as coview_devices
    from hero_sessions
    inner join views
        on
            hero_sessions.session_key = views.session_key
            and hero_sessions.hero_product_no <> views.product_no
    group by hero_sessions.hero_product_no, views.product_no
),

ranked as (
    select
        *,
        row_number() over (
            partition by hero_product_no
            order by coview_sessions desc, coviewed_product_no asc
        ) as coview_rank
    from coviews
),

final as (
    select
        ranked.hero_product_no,
        ranked.hero_product_name,
        ranked.coview_rank,
        ranked.coviewed_product_no,
        products.product_name as coviewed_product_name,
        products.category_name as coviewed_category_name,
        ranked.coview_sessions,
        ranked.coview_devices,
        hero_view_counts.hero_sessions,
        {{ safe_divide(
            'ranked.coview_sessions', 'hero_view_counts.hero_sessions'
        ) }} as coview_share,
        {{ run_date() }} as run_date
    from ranked
    inner join hero_view_counts
        on ranked.hero_product_no = hero_view_counts.hero_product_no
    left join products on ranked.coviewed_product_no = products.product_no
    where ranked.coview_rank <= {{ var('coview_top_n') }}
)

select * from final
