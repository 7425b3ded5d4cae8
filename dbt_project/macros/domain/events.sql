{#
    Acquisition channel of a session from its session_start properties (docs/data_model.md):
    messaging (utm_source = crm) > paid (utm_medium cpc/display/paid) > social (utm_medium social)
    > organic_search (search-engine referrer and no utm) > referral (other referrer, no utm) > direct.
#}
{% macro acquisition_channel(utm_source, utm_medium, referrer) -%}
    {%- set mediums = var('paid_utm_mediums') -%}
    case
        when lower({{ utm_source }}) = '{{ var("crm_utm_source") }}' then 'messaging'
        when lower({{ utm_medium }}) in (
            {%- for m in mediums %}'{{ m }}'{{ ", " if not loop.last }}{% endfor -%}
        ) then 'paid'
        when lower({{ utm_medium }}) = 'social' then 'social'
        when {{ utm_source }} is null and {{ utm_medium }} is null
            and {{ regexp_contains(
                'lower(' ~ referrer ~ ')', var('search_engine_referrer_regex')
            ) }} then 'organic_search'
        when {{ utm_source }} is null and {{ utm_medium }} is null
            and nullif({{ referrer }}, '') is not null then 'referral'
        when {{ utm_source }} is null and {{ utm_medium }} is null then 'direct'
        else 'other'
    end
{%- endmacro %}
