-- Engagement of each member per session day: sessions, product views, cart
-- adds, message clicks.
with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    where member_id is not null
),

final as (
    select
        member_id as customer_id,
        session_date as activity_date,
        count(*) as sessions,
        sum(product_views) as product_views,
        sum(cart_adds) as cart_adds,
        count(case when is_message_click then 1 end) as message_clicks
    from sessions
    group by member_id, session_date
)

select * from final
