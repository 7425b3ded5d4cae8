{#
    Post-hook: refresh planner statistics of a freshly built table. PostgreSQL plans joins over new tables
    from defaults until autovacuum gets to them, which turns the as-of joins into nested loops; DuckDB
    keeps statistics itself (no-op).
#}
{% macro analyze_relation() -%}
    {{ return(adapter.dispatch('analyze_relation', 'crm')()) }}
{%- endmacro %}

{% macro default__analyze_relation() -%}
{%- endmacro %}

{% macro postgres__analyze_relation() -%}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
