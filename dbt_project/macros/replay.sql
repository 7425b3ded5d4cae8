{#
    Rows a run for date D may see: those that had arrived by the end of D. Event drops are dated
    (`drop_date`, the dt= folder the row came from); a drop after D is data from after D, even when it
    carries late events dated D or earlier, so a replay of D after later nights sees what D's first pass
    saw. Rows without a drop date (file imports) count as arrived.
#}
{% macro arrived_by_run_date(column='drop_date') -%}
    ({{ column }} is null or {{ column }} <= {{ run_date() }})
{%- endmacro %}
{#
    The other half of the rule: a dated fact (payment, cancellation, refund, shipment, delivery) has
    happened by date `as_of` (default run_date) only if its timestamp is on or before that day. The raw
    layer keeps each order's latest state, so a replay of D sees timestamps from after D: they must count
    as not happened yet. `happened_by` is the test, `dated_by_run_date` the value kept (null when later).
#}
{% macro happened_by(column, as_of=none) -%}
    coalesce(cast({{ column }} as date) <= {{ as_of or run_date() }}, false)
{%- endmacro %}

{% macro dated_by_run_date(column) -%}
    case when {{ happened_by(column) }} then {{ column }} end
{%- endmacro %}
