{#- dbt's test `where` filter, with two additions: the placeholder `__attendance_tests_since__`
    becomes attendance_tests_since(), and `__attendance_tests_rebuilt__` the rows of the tested
    model's newest build (column built_at) when a nightly test window is set, else every row.
    Test configs in yml cannot call project macros, so the attendance tests name the
    placeholders and the rules live in macros. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace('__attendance_tests_since__', attendance_tests_since()) -%}
        {%- if '__attendance_tests_rebuilt__' in where -%}
            {%- set rebuilt = (
                "built_at >= (select max(built_at) from " ~ relation ~ ")"
            ) if var('attendance_tests_window_days', none) is not none else "true" -%}
            {%- set where = where | replace('__attendance_tests_rebuilt__', rebuilt) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
