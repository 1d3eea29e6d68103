{#-
    Custom incremental strategy `replace_from_date` for the date-grained attendance models: delete
    every row dated on or after the model's reprocess boundary (attendance_reprocess_from_config,
    evaluated before the delete, so it equals the boundary the batch was built from), then insert
    the batch. Unlike delete+insert on a key, rows that vanished from the source (cleared
    absences, a shortened enrollment span) vanish from the table too. Students named by
    attendance_reprocess_students() (a changed schedule length) lose and regain every row.
-#}
{% macro get_incremental_replace_from_date_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    {%- set students = attendance_reprocess_students() %}
    delete from {{ target }}
    where calendar_date >= ({{ attendance_reprocess_from_config() }});
    {%- if students is not none %}

        -- apart from the dates, so each delete reads by its own index (an OR read the whole table)
        delete from {{ target }}
        where (student_id, school_code) in (
            select listed.student_id, listed.school_code
            from ({{ students }}) as listed (school_code, student_id)
        );
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
