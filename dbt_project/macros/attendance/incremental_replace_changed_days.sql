{#-
    Custom incremental strategy `replace_changed_days` for the date-grained attendance models:
    delete what the model's reprocess plan names (attendance_reprocess_plan, worked out before
    the delete, so it is what the batch was built from): every row dated on or after `from` or
    on a day that left the correction window, the rows of the listed student-days and every row
    of the listed students; then insert the batch.
    Unlike delete+insert on a key, rows that vanished from the source (cleared absences, a
    shortened enrollment span) vanish from the table too.
-#}
{% macro get_incremental_replace_changed_days_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    {%- set plan = attendance_reprocess_plan() %}
    delete from {{ target }}
    where calendar_date >= {{ plan['from'] }};
    {%- if plan.get('flipped') %}

        delete from {{ target }}
        where calendar_date = any(array['{{ plan['flipped'] | join("', '") }}']::date[]);
    {%- endif %}
    {%- if plan['students'] is not none %}

        -- apart from the dates, so each delete reads by its own index (an OR read the whole table)
        delete from {{ target }}
        where
            school_code = any(array[{{ plan['student_schools'] }}]::bigint[])
            and student_id = any(array[{{ plan['student_ids'] }}]::bigint[])
            and (school_code, student_id) in ({{ plan['students'] }});
    {%- endif %}
    {%- if plan['keys'] is not none %}

        delete from {{ target }} as target
        using ({{ plan['keys'] }}) as listed (school_code, student_id, calendar_date)
        where
            target.school_code = listed.school_code
            and target.calendar_date = listed.calendar_date
            and target.student_id = listed.student_id;
    {%- endif %}

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
{%- endmacro %}

{#- Strategy `replace_school_years` (fct_attendance_student_year): the batch holds every row of the
    school-years it touches (ranks are per school, year and grade), so those school-years are
    deleted and inserted whole. -#}
{% macro get_incremental_replace_school_years_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    delete from {{ target }}
    where (school_code, school_year) in (select school_code, school_year from {{ source }});

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
{%- endmacro %}
