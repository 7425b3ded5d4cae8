{#
    Pre-hook of the date-partitioned incremental tables: before an incremental run appends the dates it
    recomputed, delete those dates (run_date - recompute_days() - extra_days .. run_date), so rebuilding a
    date replaces it, even when the date now has fewer (or no) rows. Nothing on the first run.
#}
{% macro replace_partitions(column, extra_days=0) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            {{ column }} >= {{ run_date_minus(recompute_days() + extra_days) }}
            and {{ column }} <= {{ run_date() }}
    {%- endif -%}
{%- endmacro %}
