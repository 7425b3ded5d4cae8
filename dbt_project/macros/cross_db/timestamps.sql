{#
    A source timestamp (timestamptz, or ISO text with an offset) as a local timestamp in the business
    timezone (var business_timezone). Staging calls this on every timestamp column.
#}
{% macro to_business_timestamp(column) -%}
    {{ return(adapter.dispatch('to_business_timestamp', 'crm')(column)) }}
{%- endmacro %}

{% macro default__to_business_timestamp(column) -%}
    cast(
        cast({{ column }} as timestamp with time zone)
        at time zone '{{ var("business_timezone") }}' as timestamp
    )
{%- endmacro %}

{% macro spark__to_business_timestamp(column) -%}
    from_utc_timestamp(
        to_utc_timestamp({{ column }}, 'UTC'), '{{ var("business_timezone") }}'
    )
{%- endmacro %}

{# Whole days from `start` to `end` (dates or timestamps; calendar days). #}
{% macro days_between(start, end) -%}
    {{ dbt.datediff('cast(' ~ start ~ ' as date)', 'cast(' ~ end ~ ' as date)', 'day') }}
{%- endmacro %}

{# `expr` (a date) plus `days` days, as a date. #}
{% macro add_days(expr, days) -%}
    cast({{ dbt.dateadd('day', days, expr) }} as date)
{%- endmacro %}

{# `expr` (a timestamp) plus `days` days, as a timestamp. #}
{% macro add_days_ts(expr, days) -%}
    cast({{ dbt.dateadd('day', days, expr) }} as timestamp)
{%- endmacro %}

{# `expr` (a date) plus `years` years, as a date. #}
{% macro add_years(expr, years) -%}
    cast({{ dbt.dateadd('year', years, expr) }} as date)
{%- endmacro %}
