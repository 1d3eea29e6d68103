{#- the contract is Postgres' (docs/scale.md, "What is portable") -#}
{{ config(contract={'enforced': target.type != 'spark'}) -}}
{#-
    One row per student, subject and school year: baseline vs most recent diagnostic and
    progress toward the vendor's annual growth measures. Definitions: docs/growth-metrics.md.
-#}
with

diagnostics as (

    select * from {{ ref('int_iready__diagnostics_windowed') }}

),

hs_growth_targets as (

    select * from {{ ref('iready_hs_growth_targets') }}

),

student_years as (

    select
        student_id,
        subject,
        school_year_start,
        count(*) as diagnostics_count,
        bool_or(is_current_school_year) as is_current_school_year
    from diagnostics
    group by student_id, subject, school_year_start

),

baseline as (

    select * from diagnostics
    where is_baseline

),

most_recent as (

    select * from diagnostics
    where is_most_recent

),

by_window as (

    select
        student_id,
        subject,
        school_year_start,
        max(case when test_window = 'BOY' then overall_scale_score end) as boy_scale_score,
        max(case when test_window = 'MOY' then overall_scale_score end) as moy_scale_score,
        max(case when test_window = 'EOY' then overall_scale_score end) as eoy_scale_score
    from diagnostics
    where is_latest_in_window
    group by student_id, subject, school_year_start

),

joined as (

    select
        student_years.student_id,
        student_years.subject,
        student_years.school_year_start,
        most_recent.school_year,
        most_recent.school_name,
        most_recent.grade_level,
        student_years.diagnostics_count,
        student_years.is_current_school_year,
        baseline.diagnostic_id as baseline_diagnostic_id,
        baseline.completion_date as baseline_completion_date,
        baseline.test_window as baseline_test_window,
        baseline.overall_scale_score as baseline_scale_score,
        baseline.overall_relative_placement as baseline_relative_placement,
        baseline.placement_ordinal as baseline_placement_ordinal,
        most_recent.diagnostic_id as most_recent_diagnostic_id,
        most_recent.completion_date as most_recent_completion_date,
        most_recent.test_window as most_recent_test_window,
        most_recent.overall_scale_score as most_recent_scale_score,
        most_recent.overall_relative_placement as most_recent_relative_placement,
        most_recent.placement_ordinal as most_recent_placement_ordinal,
        most_recent.grade_levels_below as most_recent_grade_levels_below,
        most_recent.is_on_or_above_grade_level as is_most_recent_on_or_above_grade_level,
        most_recent.overall_scale_score - baseline.overall_scale_score as diagnostic_gain,
        most_recent.vendor_diagnostic_gain,
        {#- the measures are set by the baseline; the export repeats them on later rows.
            Grades 9-12 have none in the export: the high-school defaults (seed) fill in. #}
        coalesce(
            most_recent.annual_typical_growth_measure,
            baseline.annual_typical_growth_measure,
            hs_growth_targets.annual_typical_growth_measure
        ) as annual_typical_growth_measure,
        coalesce(
            most_recent.annual_stretch_growth_measure,
            baseline.annual_stretch_growth_measure,
            hs_growth_targets.annual_stretch_growth_measure
        ) as annual_stretch_growth_measure,
        case
            when
                coalesce(
                    most_recent.annual_typical_growth_measure,
                    baseline.annual_typical_growth_measure
                ) is not null
                then 'vendor'
            when hs_growth_targets.annual_typical_growth_measure is not null then 'high school default'
        end as growth_measure_source,
        most_recent.vendor_percent_progress_typical,
        most_recent.vendor_percent_progress_stretch,
        by_window.boy_scale_score,
        by_window.moy_scale_score,
        by_window.eoy_scale_score
    from student_years
    inner join baseline
        on
            student_years.student_id = baseline.student_id
            and student_years.subject = baseline.subject
            and student_years.school_year_start = baseline.school_year_start
    inner join most_recent
        on
            student_years.student_id = most_recent.student_id
            and student_years.subject = most_recent.subject
            and student_years.school_year_start = most_recent.school_year_start
    left join by_window
        on
            student_years.student_id = by_window.student_id
            and student_years.subject = by_window.subject
            and student_years.school_year_start = by_window.school_year_start
    left join hs_growth_targets
        on
            baseline.subject = hs_growth_targets.subject
            and baseline.overall_relative_placement = hs_growth_targets.relative_placement
            and baseline.grade_level >= 9

),

measured as (

    select
        *,
        round(100.0 * diagnostic_gain / nullif(annual_typical_growth_measure, 0), 1)
            as percent_progress_typical,
        round(100.0 * diagnostic_gain / nullif(annual_stretch_growth_measure, 0), 1)
            as percent_progress_stretch,
        diagnostic_gain >= annual_typical_growth_measure as is_met_typical,
        diagnostic_gain >= annual_stretch_growth_measure as is_met_stretch,
        greatest(annual_typical_growth_measure - diagnostic_gain, 0) as points_to_typical,
        greatest(annual_stretch_growth_measure - diagnostic_gain, 0) as points_to_stretch,
        moy_scale_score - boy_scale_score as boy_to_moy_growth,
        eoy_scale_score - moy_scale_score as moy_to_eoy_growth,
        case
            when most_recent_grade_levels_below is null then 'unknown'
            when most_recent_grade_levels_below >= {{ var('academic_risk_high_levels_below') }} then 'high'
            when most_recent_grade_levels_below >= {{ var('academic_risk_medium_levels_below') }} then 'medium'
            else 'low'
        end as academic_risk
    from joined

),

final as (

    select
        {{ dbt.concat(["measured.student_id", "'|'", "measured.subject", "'|'", "measured.school_year_start"]) }}
            as student_subject_year_id,
        measured.student_id,
        measured.subject,
        measured.school_year_start,
        measured.school_year,
        measured.school_name,
        measured.grade_level,
        measured.diagnostics_count,
        measured.baseline_diagnostic_id,
        measured.baseline_completion_date,
        measured.baseline_test_window,
        measured.baseline_scale_score,
        measured.baseline_relative_placement,
        measured.baseline_placement_ordinal,
        measured.most_recent_diagnostic_id,
        measured.most_recent_completion_date,
        measured.most_recent_test_window,
        measured.most_recent_scale_score,
        measured.most_recent_relative_placement,
        measured.most_recent_placement_ordinal,
        measured.is_most_recent_on_or_above_grade_level,
        measured.diagnostic_gain,
        measured.vendor_diagnostic_gain,
        measured.annual_typical_growth_measure,
        measured.annual_stretch_growth_measure,
        measured.growth_measure_source,
        measured.percent_progress_typical,
        measured.vendor_percent_progress_typical,
        measured.percent_progress_stretch,
        measured.vendor_percent_progress_stretch,
        {#- the vendor rounds 100 x gain / measure to a whole number #}
        abs(round(measured.percent_progress_typical) - measured.vendor_percent_progress_typical) <= 1
            as is_percent_progress_typical_consistent,
        abs(round(measured.percent_progress_stretch) - measured.vendor_percent_progress_stretch) <= 1
            as is_percent_progress_stretch_consistent,
        measured.is_met_typical,
        measured.is_met_stretch,
        measured.points_to_typical,
        measured.points_to_stretch,
        measured.boy_scale_score,
        measured.moy_scale_score,
        measured.eoy_scale_score,
        measured.boy_to_moy_growth,
        measured.moy_to_eoy_growth,
        prior_year.most_recent_scale_score as prior_year_scale_score,
        prior_year.most_recent_placement_ordinal as prior_year_placement_ordinal,
        measured.most_recent_scale_score - prior_year.most_recent_scale_score as scale_score_change_vs_prior_year,
        measured.most_recent_placement_ordinal - prior_year.most_recent_placement_ordinal
            as placement_ordinal_change_vs_prior_year,
        measured.academic_risk,
        measured.is_current_school_year
    from measured
    left join measured as prior_year
        on
            measured.student_id = prior_year.student_id
            and measured.subject = prior_year.subject
            and measured.school_year_start = prior_year.school_year_start + 1

)

select * from final
