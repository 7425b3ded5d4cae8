{#
    The columns every audience model starts with, in the order of the audience contract (var
    audience_contract_columns in dbt_project.yml, read by Python too; docs/data_model.md "Audience contract");
    `c` is the alias of dim_customers in the model.
#}
{% macro audience_columns(c='customers') -%}
    {%- for column in var('audience_contract_columns') %}
    {{ c }}.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
