{#
    The columns every audience model starts with, in the order of the audience contract
    (docs/data_model.md "Audience contract"); `c` is the alias of dim_customers in the model.
#}
{% macro audience_columns(c='customers') -%}
    {{ c }}.customer_id,
    {{ c }}.member_id,
    {{ c }}.is_member,
    {{ c }}.customer_name,
    {{ c }}.phone,
    {{ c }}.has_valid_phone,
    {{ c }}.email,
    {{ c }}.consent_sms,
    {{ c }}.consent_kakao,
    {{ c }}.consent_email,
    {{ c }}.consent_push,
    {{ c }}.consent_night,
    {{ c }}.consent_sms_at,
    {{ c }}.consent_kakao_at,
    {{ c }}.consent_email_at,
    {{ c }}.consent_push_at,
    {{ c }}.consent_night_at,
    {{ c }}.is_opted_out,
    {{ c }}.region,
    {{ c }}.segment,
    {{ c }}.tier,
    {{ c }}.preferred_category_name,
    {{ c }}.preferred_product_no,
    {{ c }}.preferred_product_name,
    {{ c }}.benefit_code,
    {{ c }}.benefit_discount_pct,
    {{ c }}.benefit_scope,
    {{ c }}.run_date
{%- endmacro %}
