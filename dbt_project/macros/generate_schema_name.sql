{#
    Schemas are used verbatim: a model configured with schema `marts` lands in `marts`, not
    `<target schema>_marts`. Activation and the quality gates read fixed names (audiences.audience_<kind>).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
