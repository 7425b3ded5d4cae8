{# Business rules shared by several models; each is documented in docs/dbt.md and unit-tested. #}

{# A phone as digits only; null when nothing is left. #}
{% macro normalize_phone(column) -%}
    nullif({{ regexp_replace_all(column, '[^0-9]', '') }}, '')
{%- endmacro %}

{# Korean mobile number check on normalised digits (var korean_mobile_regex); false for null. #}
{% macro is_valid_korean_mobile(digits) -%}
    coalesce({{ regexp_contains(digits, var('korean_mobile_regex')) }}, false)
{%- endmacro %}

{#
    Cafe24 `T`/`F` flags as booleans. Consent flags use `default=false`: anything but an explicit `T`
    (missing, malformed) is no consent.
#}
{% macro flag_to_boolean(column, default=none) -%}
    {%- set fallback = 'null' if default is none else (default | string | lower) -%}
    case
        when upper(trim({{ column }})) in ('T', 'Y', 'TRUE', '1') then true
        when upper(trim({{ column }})) in ('F', 'N', 'FALSE', '0') then false
        else {{ fallback }}
    end
{%- endmacro %}

{#
    Customer key of a guest buyer: 'guest_' + first 12 hex of md5(phone digits) (docs/data_model.md).
    A guest order without any phone digits keys on its order id, so phone-less guests are not merged.
#}
{% macro guest_customer_id(phone_digits, order_id) -%}
    'guest_' || left(
        {{ dbt.hash('coalesce(' ~ phone_digits ~ ", 'order:' || " ~ order_id ~ ')') }},
        12
    )
{%- endmacro %}

{# Region = first token of the address (`서울특별시 …` → `서울특별시`). #}
{% macro region_from_address(address) -%}
    nullif({{ dbt.split_part('trim(' ~ address ~ ')', "' '", 1) }}, '')
{%- endmacro %}
