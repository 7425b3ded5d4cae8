{# Regular expressions and JSON differ between engines: models use only these macros. #}

{# Replace every match of `pattern` in `expr` by `replacement`. #}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'crm')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{# True when `expr` contains a match of `pattern` (case-sensitive; null when expr is null). #}
{% macro regexp_contains(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'crm')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(expr, pattern) -%}
    regexp_like({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regexp_contains(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regexp_contains(expr, pattern) -%}
    ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}

{# The text value of top-level `key` in the JSON object text `expr` (null when absent). #}
{% macro json_extract_text(expr, key) -%}
    {{ return(adapter.dispatch('json_extract_text', 'crm')(expr, key)) }}
{%- endmacro %}

{% macro default__json_extract_text(expr, key) -%}
    json_extract_scalar({{ expr }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_extract_text(expr, key) -%}
    json_extract_string({{ expr }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_extract_text(expr, key) -%}
    (cast({{ expr }} as json) ->> '{{ key }}')
{%- endmacro %}

{# `expr` (text) as bigint when it is an integer literal, else null (never an error). #}
{% macro safe_cast_bigint(expr) -%}
    case
        when {{ regexp_contains('trim(' ~ expr ~ ')', '^-?[0-9]{1,18}$') }}
            then cast(trim({{ expr }}) as {{ dbt.type_bigint() }})
    end
{%- endmacro %}

{# `expr` (text) as a number when it is a decimal literal, else null (never an error). #}
{% macro safe_cast_numeric(expr) -%}
    case
        when {{ regexp_contains('trim(' ~ expr ~ ')', '^-?[0-9]{1,15}([.][0-9]+)?$') }}
            then cast(trim({{ expr }}) as decimal(18, 2))
    end
{%- endmacro %}

{# A `YYYY-MM-DD` text as a date when well-formed, else null. #}
{% macro safe_cast_date(expr) -%}
    case
        when {{ regexp_contains(expr, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$') }}
            then cast({{ expr }} as date)
    end
{%- endmacro %}

{# A list var as a SQL list of quoted literals: ['a', 'b'] → 'a', 'b' (for `x in (...)`). #}
{% macro quoted_list(values) -%}
    {%- for v in values -%}
        '{{ v | string | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
