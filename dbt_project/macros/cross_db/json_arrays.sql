{# JSON arrays differ between engines: models unnest them only through these macros. #}

{#
    A join clause adding one row per element of the JSON array text `expr`, the element as JSON in
    `<alias>.value` (rows whose array is empty or null disappear: use it in a CTE, then left join).
#}
{% macro json_array_elements_join(expr, alias) -%}
    {{ return(adapter.dispatch('json_array_elements_join', 'crm')(expr, alias)) }}
{%- endmacro %}

{% macro duckdb__json_array_elements_join(expr, alias) -%}
    cross join
        unnest(cast(json_extract({{ expr }}, '$[*]') as json[]))
        as {{ alias }} (value)
{%- endmacro %}

{% macro postgres__json_array_elements_join(expr, alias) -%}
    cross join lateral
        json_array_elements(cast({{ expr }} as json))
        as {{ alias }} (value)
{%- endmacro %}

{# The JSON value (object or array, as JSON) of top-level `key` in the JSON object `expr`. #}
{% macro json_extract_json(expr, key) -%}
    {{ return(adapter.dispatch('json_extract_json', 'crm')(expr, key)) }}
{%- endmacro %}

{% macro duckdb__json_extract_json(expr, key) -%}
    json_extract({{ expr }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_extract_json(expr, key) -%}
    (cast({{ expr }} as json) -> '{{ key }}')
{%- endmacro %}
