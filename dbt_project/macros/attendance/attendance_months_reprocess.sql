{#-
    What int_attendance__student_months rebuilds, from what fct_attendance_daily rebuilt since the
    table's own newest build (built_at, reprocessed_from on every daily row):
      - every month from the first one of the daily fact's reprocess boundary on (every daily row
        dated on or after that boundary was rebuilt, vanished rows included): the new days;
      - the month of every earlier daily row rebuilt since, for its student (a correction);
      - every month of a student whose enrollment changed since (a span removed may leave no row
        to rebuild, so the month must go), and of a student whose schedule length changed.
    Worked out once per run (index probes on fct_attendance_daily's built_at); a table with no
    row yet rebuilds everything. Returns {'from': month or none, 'students': VALUES or none,
    'months': VALUES of (school_code, student_id, month_start) or none}.
-#}
{% macro attendance_months_reprocess_plan() -%}
    {%- if not (is_incremental() and execute) -%}
        {%- do return({'from': '-infinity', 'students': none, 'months': none}) -%}
    {%- endif -%}
    {%- set cache = attendance_reprocess_cache() -%}
    {%- if 'months' not in cache -%}
        {%- do cache.update({'months': attendance_months_reprocess_lookup()}) -%}
    {%- endif -%}
    {%- do return(cache['months']) -%}
{%- endmacro %}

{% macro attendance_months_reprocess_lookup() -%}
    {%- set daily = ref('fct_attendance_daily') -%}
    {%- set newest_build = run_query("select max(built_at)::text from " ~ this).rows[0][0] -%}
    {%- if newest_build is none -%}
        {%- do return({'from': '-infinity', 'students': none, 'months': none}) -%}
    {%- endif -%}
    {%- set since = "'" ~ newest_build ~ "'::timestamptz" -%}
    {%- set boundary = run_query(
        "select date_trunc('month', min(reprocessed_from))::date::text from " ~ daily ~ " where built_at > " ~ since
    ).rows[0][0] -%}
    {%- set students = attendance_students_changed_since(newest_build) -%}
    {%- set months = run_query(
        "select distinct school_code, student_id, date_trunc('month', calendar_date)::date::text from " ~ daily
        ~ " where built_at > " ~ since ~ " and calendar_date < '" ~ (boundary or 'infinity') ~ "'::date"
    ).rows if boundary is not none else [] -%}
    {%- set month_keys = [] -%}
    {%- for row in months -%}
        {%- do month_keys.append(
            "(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint, '" ~ row[2] ~ "'::date)"
        ) -%}
    {%- endfor -%}
    {%- do return({
        'from': boundary,
        'students': students[0],
        'student_schools': students[1],
        'student_ids': students[2],
        'months': ("values " ~ month_keys | join(", ")) if month_keys else none,
    }) -%}
{%- endmacro %}

{#- The daily rows the plan's months hold, as a UNION ALL with one index-friendly branch per part
    (a student's rows of a month are read by the daily fact's school-date-student key). Every row
    on a full build. -#}
{% macro attendance_months_reprocess_rows(daily, alias) -%}
    {%- set plan = attendance_months_reprocess_plan() -%}
    {%- if not is_incremental() -%}
        select {{ alias }}.* from {{ daily }} as {{ alias }}
    {%- else -%}
        {%- set branches = [] -%}
        {%- if plan['from'] is not none -%}
            {%- do branches.append(
                "select " ~ alias ~ ".* from " ~ daily ~ " as " ~ alias
                ~ " where " ~ alias ~ ".calendar_date >= '" ~ plan['from'] ~ "'::date"
            ) -%}
        {%- endif -%}
        {%- set not_listed = (
            " and (" ~ alias ~ ".school_code, " ~ alias ~ ".student_id) not in (" ~ plan['students'] ~ ")"
        ) if plan['students'] is not none else "" -%}
        {%- if plan['students'] is not none -%}
            {%- do branches.append(
                "select " ~ alias ~ ".* from " ~ daily ~ " as " ~ alias
                ~ " where " ~ alias ~ ".calendar_date < '" ~ (plan['from'] or 'infinity') ~ "'::date"
                ~ " and " ~ alias ~ ".school_code = any(array[" ~ plan['student_schools'] ~ "]::bigint[])"
                ~ " and " ~ alias ~ ".student_id = any(array[" ~ plan['student_ids'] ~ "]::bigint[])"
                ~ " and (" ~ alias ~ ".school_code, " ~ alias ~ ".student_id) in (" ~ plan['students'] ~ ")"
            ) -%}
        {%- endif -%}
        {%- if plan['months'] is not none -%}
            {%- do branches.append(
                "select " ~ alias ~ ".* from " ~ daily ~ " as " ~ alias
                ~ " inner join (" ~ plan['months'] ~ ") as listed (school_code, student_id, month_start)"
                ~ " on " ~ alias ~ ".school_code = listed.school_code and " ~ alias ~ ".student_id = listed.student_id"
                ~ " and " ~ alias ~ ".calendar_date >= listed.month_start"
                ~ " and " ~ alias ~ ".calendar_date < (listed.month_start + interval '1 month')::date"
                ~ not_listed
            ) -%}
        {%- endif -%}
        {%- if branches -%}
            {{ branches | join("\nunion all\n") }}
        {%- else -%}
            select {{ alias }}.* from {{ daily }} as {{ alias }} where false
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Strategy `replace_student_months`: delete the months the plan names (worked out before the
    delete, so the months the batch was built from), one statement per part so each reads by its
    own index; insert the batch. -#}
{% macro get_incremental_replace_student_months_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    {%- set plan = attendance_months_reprocess_plan() %}
    {%- if plan['from'] is not none %}
        delete from {{ target }}
        where month_start >= '{{ plan['from'] }}'::date;
    {%- endif %}
    {%- if plan['students'] is not none %}
        delete from {{ target }}
        where
            school_code = any(array[{{ plan['student_schools'] }}]::bigint[])
            and student_id = any(array[{{ plan['student_ids'] }}]::bigint[])
            and (school_code, student_id) in ({{ plan['students'] }});
    {%- endif %}
    {%- if plan['months'] is not none %}
        delete from {{ target }} as months
        using ({{ plan['months'] }}) as listed (school_code, student_id, month_start)
        where
            months.school_code = listed.school_code
            and months.student_id = listed.student_id
            and months.month_start = listed.month_start;
    {%- endif %}

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ arg_dict["temp_relation"] }}
{%- endmacro %}
