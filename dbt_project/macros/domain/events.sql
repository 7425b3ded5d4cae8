{#
    Acquisition channel of a session (docs/data_model.md), from the session_start properties or, for a session
    without session_start, from its first event's page context (int_sessions_aggregated). First match wins:
    messaging (utm_source = crm) > email (utm_medium in email_utm_mediums) > paid (paid_utm_mediums)
    > social (social_utm_mediums) > organic_search (utm_medium organic) > referral (utm_medium referral)
    > direct (GA's (direct)/(none)); without utm: social (social referrer) > organic_search (search-engine
    referrer) > referral (other referrer) > direct (no referrer); any other utm → other.
#}
{% macro _in_list(expr, values) -%}
    lower({{ expr }}) in (
        {%- for m in values %}'{{ m }}'{{ ", " if not loop.last }}{% endfor -%}
    )
{%- endmacro %}

{% macro acquisition_channel(utm_source, utm_medium, referrer) -%}
    {%- set no_utm = utm_source ~ ' is null and ' ~ utm_medium ~ ' is null' -%}
    case
        when lower({{ utm_source }}) = '{{ var("crm_utm_source") }}' then 'messaging'
        when {{ _in_list(utm_medium, var('email_utm_mediums')) }} then 'email'
        when {{ _in_list(utm_medium, var('paid_utm_mediums')) }} then 'paid'
        when {{ _in_list(utm_medium, var('social_utm_mediums')) }} then 'social'
        when {{ _in_list(utm_medium, var('organic_utm_mediums')) }}
            then 'organic_search'
        when {{ _in_list(utm_medium, var('referral_utm_mediums')) }}
            then 'referral'
        when lower({{ utm_source }}) = '(direct)'
            and coalesce(lower({{ utm_medium }}), '(none)') = '(none)'
            then 'direct'
        when {{ no_utm }}
            and {{ regexp_contains(
                'lower(' ~ referrer ~ ')', var('social_referrer_regex')
            ) }} then 'social'
        when {{ no_utm }}
            and {{ regexp_contains(
                'lower(' ~ referrer ~ ')', var('search_engine_referrer_regex')
            ) }} then 'organic_search'
        when {{ no_utm }}
            and nullif({{ referrer }}, '') is not null then 'referral'
        when {{ no_utm }} then 'direct'
        else 'other'
    end
{%- endmacro %}

{#
    Epoch milliseconds of a timestamptz (the same number on every engine): session ids derived by
    inactivity are the epoch ms of the session's first event, like Amplitude's.
#}
{% macro epoch_ms(expr) -%}
    {{ return(adapter.dispatch('epoch_ms', 'crm')(expr)) }}
{%- endmacro %}

{% macro default__epoch_ms(expr) -%}
    cast(round(extract(epoch from {{ expr }}) * 1000) as bigint)
{%- endmacro %}

{% macro duckdb__epoch_ms(expr) -%}
    epoch_ms(cast({{ expr }} as timestamp with time zone))
{%- endmacro %}
