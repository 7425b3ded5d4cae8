-- Product reviews (board 4), one row per article (latest version).
with

source as (
    select * from {{ source('cafe24', 'reviews') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by article_no
            order by updated_date desc nulls last, _dlt_load_id desc nulls last
        ) as version_rank
    from source
),

final as (
    select
        article_no as review_id,
        board_no,
        product_no,
        nullif(trim(member_id), '') as member_id,
        nullif(trim(order_id), '') as order_id,
        rating,
        {{ to_business_timestamp('created_date') }} as reviewed_at,
        cast({{ to_business_timestamp('created_date') }} as date)
            as reviewed_date,
        {{ to_business_timestamp('updated_date') }} as updated_at
    from latest
    where version_rank = 1
)

select * from final
