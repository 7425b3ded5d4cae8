{#
    Consent history (SCD type 2) of every member: one row per version of the advertising consents, valid
    from the member's updated_date (strategy timestamp: taken from the data, never the clock). Keeps the
    proof of when each consent was given or withdrawn after the storefront overwrote it. Only versions
    updated by the end of run_date are taken, so a backfill of an older date does not record the future.
    Replaying an older date D after later runs changes nothing here: versions recorded by the later runs stay
    (the storefront may no longer hold them; deleting them would lose the proof). Read it as of D with
    dbt_valid_from <= end of D and dbt_valid_to null or after D (docs/dbt.md, "Replaying a date").
#}
{% snapshot snp_customer_consents %}

{{
    config(
        unique_key='member_id',
        strategy='timestamp',
        updated_at='updated_at',
    )
}}

select
    member_id,
    {{ consent_columns() }},
    updated_at
from {{ storefront_ref('customers') }}
where cast(updated_at as date) <= {{ run_date() }}

{% endsnapshot %}
