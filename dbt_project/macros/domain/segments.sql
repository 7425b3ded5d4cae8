{#
    Purchase-frequency tier of a customer from their number of non-cancelled orders; boundaries are the
    tier_*_min_orders vars (inclusive lower bounds).
#}
{% macro purchase_tier(order_count) -%}
    case
        when {{ order_count }} >= {{ var('tier_loyal_min_orders') }} then 'loyal'
        when {{ order_count }} >= {{ var('tier_repeat_min_orders') }} then 'repeat'
        when {{ order_count }} >= {{ var('tier_second_min_orders') }} then 'second'
        when {{ order_count }} >= {{ var('tier_first_min_orders') }} then 'first'
        else 'prospect'
    end
{%- endmacro %}

{# Rank of a tier (prospect 0 … loyal 4), to tell upgrades from downgrades. #}
{% macro tier_rank(tier) -%}
    case {{ tier }}
        when 'prospect' then 0
        when 'first' then 1
        when 'second' then 2
        when 'repeat' then 3
        when 'loyal' then 4
    end
{%- endmacro %}

{# G1–G4 from the two high/low flags (source doc 004). #}
{% macro segment_from_flags(is_high_interest, is_high_conversion) -%}
    case
        when {{ is_high_interest }} and {{ is_high_conversion }} then 'G4'
        when {{ is_high_conversion }} then 'G3'
        when {{ is_high_interest }} then 'G2'
        else 'G1'
    end
{%- endmacro %}

{# Validates the threshold mode var at compile time. #}
{% macro segment_threshold_mode() -%}
    {%- set mode = var('segment_threshold_mode') | string | lower -%}
    {%- if mode not in ('absolute', 'percentile') -%}
        {{ exceptions.raise_compiler_error(
            "var segment_threshold_mode must be 'absolute' or 'percentile', got '" ~ mode ~ "'"
        ) }}
    {%- endif -%}
    {{- return(mode) -}}
{%- endmacro %}

{#
    1 / var conversion_revenue_unit_krw as an exact decimal literal (the unit must be a power of ten), so
    the conversion score stays in exact decimal arithmetic on every engine.
#}
{% macro per_revenue_unit() -%}
    {%- set unit = var('conversion_revenue_unit_krw') | int -%}
    {%- set digits = unit | string -%}
    {%- if unit <= 0 or digits != '1' ~ ('0' * (digits | length - 1)) -%}
        {{ exceptions.raise_compiler_error(
            "var conversion_revenue_unit_krw must be a power of ten, got " ~ unit
        ) }}
    {%- endif -%}
    {%- set zeros = digits | length - 1 -%}
    {{- '1' if zeros == 0 else '0.' ~ ('0' * (zeros - 1)) ~ '1' -}}
{%- endmacro %}

{#
    The threshold a score is compared with: the absolute var in absolute mode, else `percentile_expr`
    (the day's percentile of positive scores).
#}
{% macro segment_threshold(score, percentile_expr) -%}
    {%- if segment_threshold_mode() == 'absolute' -%}
        cast({{ var(score ~ '_threshold_absolute') }} as decimal(18, 2))
    {%- else -%}
        {{ percentile_expr }}
    {%- endif -%}
{%- endmacro %}
