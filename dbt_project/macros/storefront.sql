{#
    The storefront the warehouse is built from (var storefront_source: cafe24 | shopify). Both sources
    have their own staging models with the same columns (models/staging/<source>/); everything
    downstream reads the chosen one through storefront_ref, so the choice is made here and only here.
#}

{% macro storefront_source() -%}
    {%- set source = (var('storefront_source', 'cafe24') or 'cafe24') | string | trim | lower -%}
    {%- if source not in ('cafe24', 'shopify') -%}
        {{ exceptions.raise_compiler_error(
            "var storefront_source must be 'cafe24' or 'shopify', got '" ~ source ~ "'"
        ) }}
    {%- endif -%}
    {{- return(source) -}}
{%- endmacro %}

{#
    The staging model of a storefront entity for the chosen source, e.g. storefront_ref('orders') →
    ref('stg_shopify__orders') when storefront_source is shopify. Entities: customers, products, orders,
    order_items, reviews, subscriptions (Shopify's reviews and subscriptions are empty typed models).

    At parse time the model also depends on the other source's staging model, so the graph (and a
    manifest parsed in either mode, which Cosmos renders the DAG from) orders every staging model
    before its readers whatever the mode at run time. Only the chosen one is read.
#}
{% macro storefront_ref(entity) -%}
    {%- set entities = [
        'customers', 'products', 'orders', 'order_items', 'reviews', 'subscriptions'
    ] -%}
    {%- if entity not in entities -%}
        {{ exceptions.raise_compiler_error(
            "storefront_ref: unknown entity '" ~ entity ~ "', expected one of " ~ entities | join(', ')
        ) }}
    {%- endif -%}
    {%- set chosen = storefront_source() -%}
    {%- if not execute -%}
        {%- for other in ['cafe24', 'shopify'] if other != chosen -%}
            {%- do ref('stg_' ~ other ~ '__' ~ entity) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(ref('stg_' ~ chosen ~ '__' ~ entity)) -}}
{%- endmacro %}

{#
    A Shopify phone (E.164, `+821012345678`) as the national digits staging uses everywhere
    (`01012345678`); anything else (a malformed number kept as the shop had it) is normalised like a
    Cafe24 phone, so the same person gets the same digits, guest key and validity flag in both modes.
#}
{% macro normalize_e164_korean_phone(column) -%}
    case
        when trim({{ column }}) like '+82%'
            then nullif('0' || substr({{ normalize_phone(column) }}, 3), '0')
        else {{ normalize_phone(column) }}
    end
{%- endmacro %}

{# True when the comma-separated Shopify tag list `tags` contains `tag` (false for null/empty tags). #}
{% macro shopify_has_tag(tags, tag) -%}
    coalesce(
        (', ' || {{ tags }} || ',') like '%, {{ tag }},%',
        false
    )
{%- endmacro %}
