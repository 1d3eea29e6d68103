{#- The date builds are judged against: var('as_of_date') when set (reproducible builds), else today. -#}
{% macro attendance_as_of_date() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of is none or as_of == '' or as_of == 'null' -%}
        current_date
    {%- else -%}
        '{{ as_of }}'::date
    {%- endif -%}
{%- endmacro %}

{#- School year label ('2024-2025') of a date: years turn on July 1st. -#}
{% macro attendance_school_year(date_expr) -%}
    (
        (extract(year from {{ date_expr }})::integer - case when extract(month from {{ date_expr }}) < 7 then 1 else 0 end)::text
        || '-'
        || (extract(year from {{ date_expr }})::integer + case when extract(month from {{ date_expr }}) < 7 then 0 else 1 end)::text
    )
{%- endmacro %}
