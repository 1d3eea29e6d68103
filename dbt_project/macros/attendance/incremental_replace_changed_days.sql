{#-
    Custom incremental strategy `replace_changed_days` for the date-grained attendance models:
    delete what the model's reprocess plan names (attendance_reprocess_plan, worked out before
    the delete, so it is what the batch was built from): every row dated on or after `from`, the
    rows of the listed student-days and every row of the listed students; then insert the batch.
    Unlike delete+insert on a key, rows that vanished from the source (cleared absences, a
    shortened enrollment span) vanish from the table too.

    Models with reprocess_correction_window=true carry can_be_corrected: the days that left the
    correction window since the previous build (deadline on or after the newest date the table
    held, itself no later than that build's as-of date, and past now) are flipped in place rather
    than rebuilt, so a night writes the new day, the corrections and one day's flags.
-#}
{% macro get_incremental_replace_changed_days_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    {%- set plan = attendance_reprocess_plan() %}
    delete from {{ target }}
    where calendar_date >= {{ plan['from'] }};
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
    {%- set flipped = attendance_flipped_days(plan) %}
    {%- if flipped is not none %};

        update {{ target }} as target
        set can_be_corrected = flipped.can_be_corrected
        from ({{ flipped }}) as flipped (school_code, calendar_date, can_be_corrected)
        where
            target.school_code = flipped.school_code
            and target.calendar_date = flipped.calendar_date
            and target.can_be_corrected is distinct from flipped.can_be_corrected
    {%- endif %}
{%- endmacro %}

{#- The school days before the plan's `from` whose can_be_corrected may differ from what the
    table holds, with the flag they have now, as a VALUES list (a school's days, a few dozen), or
    none: the days that left the correction window since the previous build (deadline on or after
    the newest date the table held, past now); on a replay of an earlier night every day whose
    deadline is on or after the as-of date. Read from the calendar, so the update finds its rows
    by the table's school-and-date key. -#}
{% macro attendance_flipped_days(plan) -%}
    {%- if not (config.get('reprocess_correction_window', false) and plan['newest_date'] is not none) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set rows = run_query(
        "select school_code, calendar_date::text, can_be_corrected from " ~ ref('int_attendance__instructional_days')
        ~ " where calendar_date < " ~ plan['from']
        ~ " and correction_deadline >= least('" ~ plan['newest_date'] ~ "'::date, " ~ attendance_as_of_date() ~ ")"
        ~ ("" if plan['replay'] else " and not can_be_corrected")
    ).rows -%}
    {%- set listed = [] -%}
    {%- for row in rows -%}
        {%- do listed.append("(" ~ (row[0] | int) ~ "::bigint, '" ~ row[1] ~ "'::date, " ~ ('true' if row[2] else 'false') ~ ")") -%}
    {%- endfor -%}
    {%- do return(("values " ~ listed | join(", ")) if listed else none) -%}
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
