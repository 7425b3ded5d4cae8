-- The dates whose customer state (scores, segments, tiers) this run recomputes
-- from data: run_date and the event_lookback_days before it (late events
-- correct them) — or every date from backfill_start_date when set — plus one
-- more day as the "previous day" of the earliest, so every recomputed date has
-- transitions.
{%- set n_days = recompute_days() + 2 %}
with

dates as (
    {{ run_date_series(n_days, 'as_of_date') }}
),

final as (
    select
        as_of_date,
        {{ add_days('as_of_date', -1) }} as previous_date,
        as_of_date = {{ run_date() }} as is_run_date
    from dates
)

select * from final
