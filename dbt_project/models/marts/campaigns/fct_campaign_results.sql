-- Campaign lift per campaign × variant against the campaign's no-send
-- comparison group (its holdout and control rows, which were planned but never
-- sent): conversion rate and revenue per recipient with absolute/relative lift
-- and 95 % confidence intervals (normal approximation for proportions, delta
-- method for the relative lift, Welch standard error for revenue). Recipients =
-- planned, not suppressed.
{%- set z = var('confidence_z') %}
with

outcomes as (
    select * from {{ ref('int_campaign_outcomes_attributed') }}
    where not is_suppressed
),

treatment as (
    select
        campaign_id,
        variant,
        min(goal_event) as goal_event,
        count(*) as recipients,
        count(case when has_conversion then 1 end) as conversions,
        sum(revenue_in_window_krw) as revenue_krw,
        avg(cast(revenue_in_window_krw as {{ type_double() }}))
            as revenue_per_recipient,
        {{ var_samp_double('revenue_in_window_krw') }} as revenue_variance,
        count(case when is_window_complete then 1 end) as windows_complete
    from outcomes
    where arm = 'treatment'
    group by campaign_id, variant
),

comparison as (
    select
        campaign_id,
        count(*) as recipients,
        count(case when arm = 'holdout' then 1 end) as holdout_recipients,
        count(case when arm = 'control' then 1 end) as control_recipients,
        count(case when has_conversion then 1 end) as conversions,
        avg(cast(revenue_in_window_krw as {{ type_double() }}))
            as revenue_per_recipient,
        {{ var_samp_double('revenue_in_window_krw') }} as revenue_variance
    from outcomes
    where arm in ('holdout', 'control')
    group by campaign_id
),

rates as (
    select
        treatment.campaign_id,
        treatment.variant,
        treatment.goal_event,
        treatment.recipients,
        treatment.conversions,
        treatment.revenue_krw,
        treatment.windows_complete,
        coalesce(comparison.recipients, 0) as comparison_recipients,
        coalesce(comparison.holdout_recipients, 0) as holdout_recipients,
        coalesce(comparison.control_recipients, 0) as control_recipients,
        coalesce(comparison.conversions, 0) as comparison_conversions,
        {{ safe_divide('treatment.conversions', 'treatment.recipients') }}
            as conversion_rate,
        {{ safe_divide('comparison.conversions', 'comparison.recipients') }}
            as comparison_conversion_rate,
        treatment.revenue_per_recipient,
        comparison.revenue_per_recipient as comparison_revenue_per_recipient,
        treatment.revenue_variance,
        comparison.revenue_variance as comparison_revenue_variance
    from treatment
    left join comparison on treatment.campaign_id = comparison.campaign_id
),

errors as (
    select
        *,
        conversion_rate - comparison_conversion_rate as absolute_lift,
        sqrt(
            conversion_rate * (1 - conversion_rate) / nullif(recipients, 0)
            + comparison_conversion_rate * (1 - comparison_conversion_rate)
            / nullif(comparison_recipients, 0)
        ) as absolute_lift_se,
        (conversion_rate - comparison_conversion_rate)
        / nullif(comparison_conversion_rate, 0) as relative_lift,
        -- delta method for p_t / p_c - 1
        sqrt(
            conversion_rate * (1 - conversion_rate) / nullif(recipients, 0)
            / nullif(comparison_conversion_rate * comparison_conversion_rate, 0)
            + conversion_rate * conversion_rate
            * comparison_conversion_rate * (1 - comparison_conversion_rate)
            / nullif(comparison_recipients, 0)
            / nullif(power(comparison_conversion_rate, 4), 0)
        ) as relative_lift_se,
        revenue_per_recipient - comparison_revenue_per_recipient
            as revenue_per_recipient_lift,
        sqrt(
            revenue_variance / nullif(recipients, 0)
            + comparison_revenue_variance / nullif(comparison_recipients, 0)
        ) as revenue_lift_se,
        -- Welch–Satterthwaite degrees of freedom (reported; the interval uses
        -- z)
        power(
            revenue_variance / nullif(recipients, 0)
            + comparison_revenue_variance / nullif(comparison_recipients, 0),
            2
        ) / nullif(
            power(revenue_variance / nullif(recipients, 0), 2)
            / nullif(recipients - 1, 0)
            + power(
                comparison_revenue_variance
                / nullif(comparison_recipients, 0),
                2
            ) / nullif(comparison_recipients - 1, 0),
            0
        ) as revenue_welch_df
    from rates
),

final as (
    select
        campaign_id,
        variant,
        goal_event,
        recipients,
        comparison_recipients,
        holdout_recipients,
        control_recipients,
        conversions,
        comparison_conversions,
        conversion_rate,
        comparison_conversion_rate,
        absolute_lift,
        absolute_lift - {{ z }} * absolute_lift_se as absolute_lift_ci_low,
        absolute_lift + {{ z }} * absolute_lift_se as absolute_lift_ci_high,
        relative_lift,
        relative_lift - {{ z }} * relative_lift_se as relative_lift_ci_low,
        relative_lift + {{ z }} * relative_lift_se as relative_lift_ci_high,
        revenue_krw,
        revenue_per_recipient,
        comparison_revenue_per_recipient,
        revenue_per_recipient_lift,
        revenue_per_recipient_lift - {{ z }} * revenue_lift_se
            as revenue_lift_ci_low,
        revenue_per_recipient_lift + {{ z }} * revenue_lift_se
            as revenue_lift_ci_high,
        revenue_welch_df,
        coalesce(
            absolute_lift - {{ z }} * absolute_lift_se > 0
            or absolute_lift + {{ z }} * absolute_lift_se < 0,
            false
        ) as is_conversion_lift_significant,
        windows_complete,
        {{ run_date() }} as run_date
    from errors
)

select * from final
