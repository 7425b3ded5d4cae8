{#
    The replay rule of every incremental model, in one place (docs/dbt.md, "Replaying a date").

    A run for date D owns every row dated from its first recomputed date on, later dates included:
    before the incremental run inserts, this pre-hook deletes the rows whose `column` is on or after
    run_date - recompute_days() - extra_days, and the model re-inserts the recomputed dates from sources
    filtered to the end of D. So
    - a rerun of D replaces D (even when D now has fewer or no rows);
    - a replay of D after D+1, D+2 ran gives back exactly the table of D's first pass: the rows of the later
      dates are removed (they were built from data after D) until those dates are re-run in order.
    Nothing on the first run or a full refresh (the table is built from scratch up to D anyway).
    `arrived_column` (fct_events: drop_date) also deletes rows that arrived after D whatever their date
    (late events of a later drop; the model re-reads only what had arrived by D, macro arrived_by_run_date).
#}
{% macro replace_partitions(column, extra_days=0, arrived_column=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            {{ column }} >= {{ run_date_minus(recompute_days() + extra_days) }}
            {%- if arrived_column %}
            or {{ arrived_column }} > {{ run_date() }}
            {%- endif %}
    {%- endif -%}
{%- endmacro %}
