{#
    Discrete percentile (an actual value of `expr`, so DuckDB and PostgreSQL agree exactly) as an aggregate.
    `fraction` is a number in [0, 1].
#}
{% macro percentile_disc(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_disc', 'crm')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile_disc(expr, fraction) -%}
    percentile_disc({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__percentile_disc(expr, fraction) -%}
    quantile_disc({{ expr }}, {{ fraction }})
{%- endmacro %}

{# Sample variance as double precision (PostgreSQL returns numeric for integer input). #}
{% macro var_samp_double(expr) -%}
    var_samp(cast({{ expr }} as {{ type_double() }}))
{%- endmacro %}

{# Safe division: null when the denominator is 0 or null. #}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0))
{%- endmacro %}

{# 64-bit floating point on every engine (dbt's type_float is 32-bit FLOAT on DuckDB). #}
{% macro type_double() -%}
    double precision
{%- endmacro %}

{#
    A score rounded to 2 decimals in exact decimal arithmetic (half away from zero on both engines), so
    DuckDB and PostgreSQL compare thresholds on identical values.
#}
{% macro round_score(expr) -%}
    cast(round(cast({{ expr }} as decimal(18, 4)), 2) as decimal(18, 2))
{%- endmacro %}
