{#- The attendance totals of a group of fct_attendance_daily's enrolled days: what
    int_attendance__student_months holds per student and month, and what a night adds to the
    month and year rows held (the new days' totals). One definition for both. -#}
{% macro attendance_day_total_counts() -%}
    {%- do return([
        'days_enrolled', 'days_present', 'days_absent', 'days_absent_excused', 'days_absent_unexcused',
        'days_suspended_out_of_school', 'days_suspended_in_school', 'days_independent_study',
        'days_independent_study_incomplete', 'days_tardy', 'days_partially_absent', 'periods_absent',
    ]) -%}
{%- endmacro %}

{#- Select list over enrolled daily rows, grouped by the caller: grade_level (at the latest day),
    first/last enrolled date, the counts above and presence_pattern (days in date order, 1 = present). -#}
{% macro attendance_day_totals() -%}
    {{ value_at_max('grade_level', 'calendar_date') }} as grade_level,
    min(calendar_date) as first_enrolled_date,
    max(calendar_date) as last_enrolled_date,
    count(*) as days_enrolled,
    count(*) filter (where is_present) as days_present,
    count(*) filter (where is_full_day_absent) as days_absent,
    count(*) filter (where is_excused) as days_absent_excused,
    count(*) filter (where is_unexcused) as days_absent_unexcused,
    count(*) filter (where is_suspended_out_of_school) as days_suspended_out_of_school,
    count(*) filter (where is_suspended_in_school) as days_suspended_in_school,
    count(*) filter (where is_independent_study) as days_independent_study,
    count(*) filter (
        where is_full_day_absent and attendance_category = 'independent_study_incomplete'
    ) as days_independent_study_incomplete,
    count(*) filter (where is_tardy) as days_tardy,
    count(*) filter (where is_absent and not is_full_day_absent) as days_partially_absent,
    sum(periods_absent) as periods_absent,
    {{ ordered_string_agg("case when is_present then '1' else '0' end", '', 'calendar_date') }} as presence_pattern
{%- endmacro %}

{#- Select list of a row held (`held`, may be null) plus the totals of later days (`added`, from
    attendance_day_totals): the later days set the grade and the last day, the held row the
    first day; counts add up. presence_pattern is the caller's (a month keeps it whole, a year its
    recent end). -#}
{% macro attendance_added_totals(held, added) -%}
    {{ added }}.grade_level,
    coalesce({{ held }}.first_enrolled_date, {{ added }}.first_enrolled_date) as first_enrolled_date,
    {{ added }}.last_enrolled_date,
    {%- for column in attendance_day_total_counts() %}
        coalesce({{ held }}.{{ column }}, 0) + {{ added }}.{{ column }} as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
