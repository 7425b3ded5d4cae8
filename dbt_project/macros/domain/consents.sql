{#
    The advertising-consent columns of a customer, in one order everywhere: the flag per channel, then the date
    each was given. `relation` prefixes each column (e.g. 'customers.'). The channels are the storefront's
    consent flags; the rule on their age is var consent_reconfirmation_years.
#}
{% macro consent_columns(relation='') -%}
    {%- set channels = ['sms', 'kakao', 'email', 'push', 'night'] -%}
    {%- for channel in channels %}
    {{ relation }}consent_{{ channel }},
    {%- endfor %}
    {%- for channel in channels %}
    {{ relation }}consent_{{ channel }}_at{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
