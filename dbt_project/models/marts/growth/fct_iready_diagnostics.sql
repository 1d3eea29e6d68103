{#- the contract is Postgres' (docs/scale.md, "What is portable") -#}
{{ config(contract={'enforced': target.type != 'spark'}) -}}
with

diagnostics as (

    select * from {{ ref('int_iready__diagnostics_windowed') }}

),

final as (

    select
        diagnostic_id,
        student_id,
        subject,
        school_year_start,
        school_year,
        test_window,
        school_name,
        student_grade,
        grade_level,
        overall_scale_score,
        overall_placement,
        overall_relative_placement,
        placement_ordinal,
        grade_levels_below,
        placement_3_level,
        is_on_or_above_grade_level,
        percentile,
        grouping_number,
        lexile_measure,
        quantile_measure,
        diagnostic_language,
        duration_minutes,
        phonological_awareness_scale_score,
        phonological_awareness_relative_placement,
        phonics_scale_score,
        phonics_relative_placement,
        high_frequency_words_scale_score,
        high_frequency_words_relative_placement,
        vocabulary_scale_score,
        vocabulary_relative_placement,
        comprehension_overall_scale_score,
        comprehension_overall_relative_placement,
        comprehension_literature_scale_score,
        comprehension_literature_relative_placement,
        comprehension_informational_text_scale_score,
        comprehension_informational_text_relative_placement,
        number_and_operations_scale_score,
        number_and_operations_relative_placement,
        algebra_and_algebraic_thinking_scale_score,
        algebra_and_algebraic_thinking_relative_placement,
        measurement_and_data_scale_score,
        measurement_and_data_relative_placement,
        geometry_scale_score,
        geometry_relative_placement,
        vendor_diagnostic_gain,
        annual_typical_growth_measure,
        annual_stretch_growth_measure,
        vendor_percent_progress_typical,
        vendor_percent_progress_stretch,
        mid_on_grade_level_scale_score,
        sitting_number,
        is_baseline,
        is_most_recent,
        is_latest_in_window,
        is_baseline_vendor,
        is_most_recent_vendor,
        is_rushed,
        is_current_school_year,
        case when is_current_school_year then 'current' else 'historical' end as record_status,
        start_date,
        completion_date
    from diagnostics

)

select * from final
