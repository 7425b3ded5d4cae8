{#
    "Today" of the run and the windows derived from it. Every model reads dates through these macros,
    never current_date/now(), so a rerun or a backfill of the same date produces the same tables.
#}

{# Validates a 'YYYY-MM-DD' var and returns it as a python date (none when unset and allowed). #}
{% macro _date_var(name, required) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or value == '' -%}
        {%- if required and execute -%}
            {{ exceptions.raise_compiler_error(
                "var '" ~ name ~ "' is required: dbt build --vars '{" ~ name ~ ": YYYY-MM-DD}'"
            ) }}
        {%- endif -%}
        {{- return(modules.datetime.date(1970, 1, 1) if required else none) -}}
    {%- endif -%}
    {%- set text = value | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(
            "var '" ~ name ~ "' must be 'YYYY-MM-DD', got '" ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{- return(modules.datetime.date.fromisoformat(text)) -}}
{%- endmacro %}

{# The run date as 'YYYY-MM-DD'. #}
{% macro run_date_str() -%}
    {{- return(_date_var('run_date', true).isoformat()) -}}
{%- endmacro %}

{# The run date as a SQL date literal. #}
{% macro run_date() -%}
    cast('{{ run_date_str() }}' as date)
{%- endmacro %}

{# A date `days` before the run date (negative days go forward), as a SQL date literal. #}
{% macro run_date_minus(days) -%}
    {%- set d = _date_var('run_date', true) - modules.datetime.timedelta(days=days | int) -%}
    cast('{{ d.isoformat() }}' as date)
{%- endmacro %}

{#
    Days before run_date whose rows and customer states this run recomputes: event_lookback_days, or
    back to backfill_start_date when a backfill passes it (one run then rebuilds the whole range exactly
    as the nightly runs of each date would).
#}
{% macro recompute_days() -%}
    {%- set days = var('event_lookback_days') | int -%}
    {%- set start = _date_var('backfill_start_date', false) -%}
    {%- if start is not none -%}
        {%- set backfill_days = (_date_var('run_date', true) - start).days -%}
        {%- if backfill_days < 0 and execute -%}
            {{ exceptions.raise_compiler_error(
                "var backfill_start_date must not be after run_date"
            ) }}
        {%- endif -%}
        {%- set days = [days, backfill_days] | max -%}
    {%- endif -%}
    {{- return(days) -}}
{%- endmacro %}

{# First date incremental models re-read (late-arriving rows, or the backfill range). #}
{% macro lookback_start_date() -%}
    {{ run_date_minus(recompute_days()) }}
{%- endmacro %}

{# Rows `select <date> as <column_name>` for run_date and the n_days - 1 days before it (union all). #}
{% macro run_date_series(n_days, column_name) -%}
    {%- for i in range(n_days) %}
    select {{ run_date_minus(i) }} as {{ column_name }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
