{#-
    Custom incremental strategy `close_and_append_versions` for the SCD2 history
    snp_attendance_codes: every new version closes the open version of its day (valid_to = the new
    version's valid_from), then the new versions are appended, as dbt's snapshot does.
-#}
{% macro get_incremental_close_and_append_versions_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    update {{ target }} as history
    set dbt_valid_to = new_versions.dbt_valid_from
    from {{ source }} as new_versions
    where
        history.school_code = new_versions.school_code
        and history.student_id = new_versions.student_id
        and history.calendar_date = new_versions.calendar_date
        and history.dbt_valid_to = '9999-12-31'::timestamp;

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
{%- endmacro %}
