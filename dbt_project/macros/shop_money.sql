{#- Money in the shop's currency (var shop_currency, ISO 4217; include/core/currency.py holds the same table).

    raw_cafe24 amounts are integers in the currency's minor unit (won as they are, cents for USD); shop_money()
    turns one into major units: unchanged (an integer) for a whole-unit currency such as KRW, an exact
    decimal(38, exponent) otherwise. shop_money_major() does the same for a source already in major units
    (Shopify's decimal amounts): rounded to the currency's decimals only.
    The mart columns keep their historical `_krw` names; they hold the shop's currency. -#}

{% macro currency_exponent(code) -%}
    {%- set exponents = {
        'KRW': 0, 'JPY': 0, 'VND': 0, 'CLP': 0, 'ISK': 0, 'PYG': 0, 'UGX': 0, 'XAF': 0, 'XOF': 0,
        'BHD': 3, 'KWD': 3, 'OMR': 3, 'JOD': 3, 'TND': 3, 'LYD': 3, 'IQD': 3,
    } -%}
    {{- return(exponents.get(code | upper, 2)) -}}
{%- endmacro %}

{% macro shop_money(column) -%}
    {%- set e = currency_exponent(var('shop_currency', 'KRW')) -%}
    {%- if e == 0 -%}
        {{ column }}
    {%- else -%}
        cast(cast({{ column }} as decimal(38, {{ e }})) * {{ '0.' ~ ('0' * (e - 1)) ~ '1' }} as decimal(38, {{ e }}))
    {%- endif -%}
{%- endmacro %}

{% macro shop_money_major(column) -%}
    {%- set e = currency_exponent(var('shop_currency', 'KRW')) -%}
    {%- if e == 0 -%}
        cast(round({{ column }}) as {{ dbt.type_bigint() }})
    {%- else -%}
        cast(round(cast({{ column }} as decimal(38, 9)), {{ e }}) as decimal(38, {{ e }}))
    {%- endif -%}
{%- endmacro %}
