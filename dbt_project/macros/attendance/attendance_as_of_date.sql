{#- The date builds are judged against: var('as_of_date') when set (reproducible builds), else the
    session setting schooldata.as_of_date (PGOPTIONS='-c schooldata.as_of_date=2025-06-12': the
    same, without a change of --vars that makes dbt re-parse the project), else today. -#}
{% macro attendance_as_of_date() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of is none or as_of == '' or as_of == 'null' -%}
        coalesce(nullif(current_setting('schooldata.as_of_date', true), '')::date, current_date)
    {%- else -%}
        '{{ as_of }}'::date
    {%- endif -%}
{%- endmacro %}

{#- First date the date-grained attendance tests look at: var('attendance_tests_since') when set,
    else var('attendance_tests_window_days') days before the as-of date, else every date. The
    window form keeps the nightly command the same every night, so dbt parses partially. Test
    configs in yml reach it through the placeholder __attendance_tests_since__ (get_where_subquery). -#}
{% macro attendance_tests_since() -%}
    {%- set window_days = var('attendance_tests_window_days', none) -%}
    {%- if window_days is not none -%}
        ({{ attendance_as_of_date() }} - {{ window_days }}::integer)
    {%- else -%}
        '{{ var("attendance_tests_since", "-infinity") }}'::date
    {%- endif -%}
{%- endmacro %}

{#- School year label ('2024-2025') of a date: years turn on July 1st. -#}
{% macro attendance_school_year(date_expr) -%}
    (
        (extract(year from {{ date_expr }})::integer - case when extract(month from {{ date_expr }}) < 7 then 1 else 0 end)::{{ type_text() }}
        || '-'
        || (extract(year from {{ date_expr }})::integer + case when extract(month from {{ date_expr }}) < 7 then 0 else 1 end)::{{ type_text() }}
    )
{%- endmacro %}

{#- Clock of the attendance code history (snp_attendance_codes): the as-of date at the current
    time of day, so fct_attendance_corrections judges "detected inside the correction window"
    against the simulated or replayed night. With no as-of date set it equals now(). -#}
{% macro attendance_version_time() -%}
    ({{ attendance_as_of_date() }} + localtime)::timestamp
{%- endmacro %}
