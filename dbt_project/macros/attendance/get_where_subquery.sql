{#- dbt's test `where` filter, with one addition: the placeholder `__attendance_tests_since__`
    becomes attendance_tests_since(). Test configs in yml cannot call project macros, so the
    date-grained attendance tests name the placeholder and the rule lives in one macro. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace('__attendance_tests_since__', attendance_tests_since()) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
