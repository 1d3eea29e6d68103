{#-
    Every distinct diagnostic once (a re-delivered file or a re-pulled year lands the same
    sitting twice: keep the newest file, as the pipeline's dedup view does), with its
    test window, placement ordinal and position within the student's subject-year.
-#}
with

diagnostics as (

    select * from {{ ref('stg_iready__diagnostic_results') }}

),

test_windows as (

    select * from {{ ref('iready_test_windows') }}

),

placement_levels as (

    select * from {{ ref('iready_placement_levels') }}

),

deduplicated as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by diagnostic_id
                order by file_modified_at desc nulls last, loaded_at desc nulls last, source_row_id desc
            ) as load_rank
        from diagnostics
        where
            student_id is not null
            and subject is not null
            and completion_date is not null
    ) as ranked
    where load_rank = 1

),

seeded_years as (

    select distinct school_year_start from test_windows

),

windowed as (

    select
        deduplicated.*,
        coalesce(
            test_windows.window_code,
            case
                when seeded_years.school_year_start is not null then 'outside window'
                {#- no seed rows for this year: the vendor's default periods (since 2020-21) #}
                when deduplicated.completion_date < make_date(deduplicated.school_year_start, 7, 1)
                    then 'outside window'
                when deduplicated.completion_date <= make_date(deduplicated.school_year_start, 11, 15)
                    then 'BOY'
                when deduplicated.completion_date <= make_date(deduplicated.school_year_start + 1, 3, 1)
                    then 'MOY'
                when deduplicated.completion_date <= make_date(deduplicated.school_year_start + 1, 6, 30)
                    then 'EOY'
                else 'outside window'
            end
        ) as test_window
    from deduplicated
    left join test_windows
        on
            deduplicated.school_year_start = test_windows.school_year_start
            and deduplicated.completion_date between test_windows.start_date and test_windows.end_date
    left join seeded_years
        on deduplicated.school_year_start = seeded_years.school_year_start

),

current_year as (

    select
        cast(
            extract(year from as_of.as_of_date)
            - case when extract(month from as_of.as_of_date) < 7 then 1 else 0 end
            as integer
        ) as school_year_start
    from (
        select
            {% if var('as_of_date', none) -%}
                cast('{{ var("as_of_date") }}' as date) as as_of_date
            {%- else -%}
                current_date as as_of_date
            {%- endif %}
    ) as as_of

),

final as (

    select
        windowed.diagnostic_id,
        windowed.student_id,
        windowed.subject,
        windowed.school_year_start,
        windowed.school_year,
        windowed.test_window,
        windowed.school_name,
        windowed.student_grade,
        windowed.grade_level,
        windowed.overall_scale_score,
        windowed.overall_placement,
        windowed.overall_relative_placement,
        placement_levels.placement_ordinal,
        placement_levels.grade_levels_below,
        placement_levels.placement_3_level,
        coalesce(placement_levels.is_on_or_above_grade_level, false) as is_on_or_above_grade_level,
        windowed.percentile,
        windowed.grouping_number,
        windowed.lexile_measure,
        windowed.quantile_measure,
        windowed.diagnostic_language,
        windowed.duration_minutes,
        windowed.phonological_awareness_scale_score,
        windowed.phonological_awareness_relative_placement,
        windowed.phonics_scale_score,
        windowed.phonics_relative_placement,
        windowed.high_frequency_words_scale_score,
        windowed.high_frequency_words_relative_placement,
        windowed.vocabulary_scale_score,
        windowed.vocabulary_relative_placement,
        windowed.comprehension_overall_scale_score,
        windowed.comprehension_overall_relative_placement,
        windowed.comprehension_literature_scale_score,
        windowed.comprehension_literature_relative_placement,
        windowed.comprehension_informational_text_scale_score,
        windowed.comprehension_informational_text_relative_placement,
        windowed.number_and_operations_scale_score,
        windowed.number_and_operations_relative_placement,
        windowed.algebra_and_algebraic_thinking_scale_score,
        windowed.algebra_and_algebraic_thinking_relative_placement,
        windowed.measurement_and_data_scale_score,
        windowed.measurement_and_data_relative_placement,
        windowed.geometry_scale_score,
        windowed.geometry_relative_placement,
        windowed.vendor_diagnostic_gain,
        windowed.annual_typical_growth_measure,
        windowed.annual_stretch_growth_measure,
        windowed.vendor_percent_progress_typical,
        windowed.vendor_percent_progress_stretch,
        windowed.mid_on_grade_level_scale_score,
        coalesce(windowed.is_baseline_vendor, false) as is_baseline_vendor,
        coalesce(windowed.is_most_recent_vendor, false) as is_most_recent_vendor,
        coalesce(windowed.is_rushed, false) as is_rushed,
        windowed.school_year_start = current_year.school_year_start as is_current_school_year,
        row_number() over (
            partition by windowed.student_id, windowed.subject, windowed.school_year_start
            order by windowed.completion_date, windowed.start_date, windowed.diagnostic_id
        ) as sitting_number,
        {#- baseline: the sitting the vendor flagged as establishing the growth measures
            (the earliest, if re-flagged); without a flag, the year's first sitting #}
        row_number() over (
            partition by windowed.student_id, windowed.subject, windowed.school_year_start
            order by
                coalesce(windowed.is_baseline_vendor, false) desc,
                windowed.completion_date asc,
                windowed.start_date asc,
                windowed.diagnostic_id asc
        ) = 1 as is_baseline,
        row_number() over (
            partition by windowed.student_id, windowed.subject, windowed.school_year_start
            order by windowed.completion_date desc, windowed.start_date desc, windowed.diagnostic_id desc
        ) = 1 as is_most_recent,
        row_number() over (
            partition by windowed.student_id, windowed.subject, windowed.school_year_start, windowed.test_window
            order by windowed.completion_date desc, windowed.start_date desc, windowed.diagnostic_id desc
        ) = 1 as is_latest_in_window,
        windowed.start_date,
        windowed.completion_date,
        windowed.source_file_name,
        windowed.loaded_at
    from windowed
    cross join current_year
    left join placement_levels
        on windowed.overall_relative_placement = placement_levels.relative_placement

)

select * from final
