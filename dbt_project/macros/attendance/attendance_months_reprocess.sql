{#-
    What int_attendance__student_months rebuilds, from what fct_attendance_daily rebuilt since the
    table's own newest build (built_at, reprocessed_from on every daily row: every daily row dated
    on or after reprocessed_from was rebuilt by that build, vanished rows included):
      - the new days: when the daily fact's earliest boundary lies after every day the months
        already hold, the new days' totals are added to the month rows (`append_from`: a night
        adds one day to each student's month instead of re-reading the month); otherwise (a
        replay, a first build) every month from the boundary's month on is aggregated anew (`from`);
      - the month of every earlier daily row rebuilt since, for its student (a correction),
        aggregated anew;
      - every month of a student whose enrollment changed since (a span removed may leave no row
        to rebuild, so the month must go), and of a student whose schedule length changed.
    Worked out once per run (index probes on fct_attendance_daily's built_at); a table with no
    row yet rebuilds everything. Returns {'from': month or none, 'append_from': date or none,
    'students': VALUES or none, 'months': VALUES of (school_code, student_id, month_start) or none}.
-#}
{% macro attendance_months_reprocess_plan() -%}
    {%- if not (is_incremental() and execute) -%}
        {%- do return({'from': '-infinity', 'append_from': none, 'students': none, 'months': none}) -%}
    {%- endif -%}
    {%- set cache = attendance_reprocess_cache() -%}
    {%- if 'months' not in cache -%}
        {%- do cache.update({'months': attendance_months_reprocess_lookup()}) -%}
    {%- endif -%}
    {%- do return(cache['months']) -%}
{%- endmacro %}

{% macro attendance_months_reprocess_lookup() -%}
    {%- set daily = ref('fct_attendance_daily') -%}
    {#- the newest build, and the newest day held (read in the newest month by its index) -#}
    {%- set state = run_query(
        "select max(built_at)::text, (select max(last_enrolled_date) from " ~ this
        ~ " where month_start = (select max(month_start) from " ~ this ~ "))::text from " ~ this
    ).rows[0] -%}
    {%- set newest_build, newest_day = state[0], state[1] -%}
    {%- if newest_build is none -%}
        {%- do return({'from': '-infinity', 'append_from': none, 'students': none, 'months': none}) -%}
    {%- endif -%}
    {%- set since = "'" ~ newest_build ~ "'::timestamptz" -%}
    {#- the first date rebuilt since; and if the daily fact no longer reaches the newest day held
        (a replay of an earlier night dropped the later days, which leaves no row to rebuild),
        the day after its newest date, from which every month must go -#}
    {%- set boundary = run_query(
        "select boundary::text, date_trunc('month', boundary)::date::text,"
        ~ " boundary > '" ~ newest_day ~ "'::date and not vanished from ("
        ~ " select least(rebuilt.first_date, case when held.vanished then held.after_newest end) as boundary,"
        ~ " held.vanished from"
        ~ " (select min(reprocessed_from) as first_date from " ~ daily ~ " where built_at > " ~ since ~ ") as rebuilt,"
        ~ " (select coalesce(max(calendar_date) < '" ~ newest_day ~ "'::date, true) as vanished,"
        ~ " coalesce(max(calendar_date) + 1, '-infinity'::date) as after_newest from " ~ daily ~ ") as held"
        ~ ") as plan"
    ).rows[0] -%}
    {%- set appends = boundary[2] is sameas true -%}
    {%- set students = attendance_students_changed_since(newest_build) -%}
    {%- set months = run_query(
        "select distinct school_code, student_id, date_trunc('month', calendar_date)::date::text from " ~ daily
        ~ " where built_at > " ~ since ~ " and calendar_date < '" ~ boundary[0 if appends else 1] ~ "'::date"
    ).rows if boundary[0] is not none else [] -%}
    {%- set month_keys = [] -%}
    {%- for row in months -%}
        {%- do month_keys.append(
            "(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint, '" ~ row[2] ~ "'::date)"
        ) -%}
    {%- endfor -%}
    {%- do return({
        'from': none if appends else boundary[1],
        'append_from': boundary[0] if appends else none,
        'students': students[0],
        'student_schools': students[1],
        'student_ids': students[2],
        'months': ("values " ~ month_keys | join(", ")) if month_keys else none,
    }) -%}
{%- endmacro %}

{#- The daily rows the plan's months hold, as a UNION ALL with one index-friendly branch per part
    (a student's rows of a month are read by the daily fact's school-date-student key), each with
    `appended`: true for the new days whose totals are added to the month rows held. Every row on
    a full build. -#}
{% macro attendance_months_reprocess_rows(daily, alias) -%}
    {%- set plan = attendance_months_reprocess_plan() -%}
    {%- if not is_incremental() -%}
        select {{ alias }}.*, false as appended from {{ daily }} as {{ alias }}
    {%- else -%}
        {%- set branches = [] -%}
        {%- set listed_students = (
            "(" ~ alias ~ ".school_code, " ~ alias ~ ".student_id) in (" ~ plan['students'] ~ ")"
        ) if plan['students'] is not none else none -%}
        {%- if plan['from'] is not none -%}
            {%- do branches.append(
                "select " ~ alias ~ ".*, false as appended from " ~ daily ~ " as " ~ alias
                ~ " where " ~ alias ~ ".calendar_date >= '" ~ plan['from'] ~ "'::date"
            ) -%}
        {%- endif -%}
        {%- if plan['append_from'] is not none -%}
            {#- the new days of every student and month not aggregated anew below -#}
            {%- do branches.append(
                "select " ~ alias ~ ".*, true as appended from " ~ daily ~ " as " ~ alias
                ~ " where " ~ alias ~ ".calendar_date >= '" ~ plan['append_from'] ~ "'::date"
                ~ ((" and not " ~ listed_students) if listed_students else "")
                ~ ((" and (" ~ alias ~ ".school_code, " ~ alias ~ ".student_id, date_trunc('month', "
                    ~ alias ~ ".calendar_date)::date) not in (" ~ plan['months'] ~ ")") if plan['months'] else "")
            ) -%}
        {%- endif -%}
        {%- if plan['students'] is not none -%}
            {%- do branches.append(
                "select " ~ alias ~ ".*, false as appended from " ~ daily ~ " as " ~ alias
                ~ " where " ~ alias ~ ".calendar_date < '" ~ (plan['from'] or 'infinity') ~ "'::date"
                ~ " and " ~ alias ~ ".school_code = any(array[" ~ plan['student_schools'] ~ "]::bigint[])"
                ~ " and " ~ alias ~ ".student_id = any(array[" ~ plan['student_ids'] ~ "]::bigint[])"
                ~ " and " ~ listed_students
            ) -%}
        {%- endif -%}
        {%- if plan['months'] is not none -%}
            {%- do branches.append(
                "select " ~ alias ~ ".*, false as appended from " ~ daily ~ " as " ~ alias
                ~ " inner join (" ~ plan['months'] ~ ") as listed (school_code, student_id, month_start)"
                ~ " on " ~ alias ~ ".school_code = listed.school_code and " ~ alias ~ ".student_id = listed.student_id"
                ~ " and " ~ alias ~ ".calendar_date >= listed.month_start"
                ~ " and " ~ alias ~ ".calendar_date < (listed.month_start + interval '1 month')::date"
                ~ ((" and not " ~ listed_students) if listed_students else "")
            ) -%}
        {%- endif -%}
        {%- if branches -%}
            {{ branches | join("\nunion all\n") }}
        {%- else -%}
            select {{ alias }}.*, false as appended from {{ daily }} as {{ alias }} where false
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
    {%- if plan['append_from'] is not none %}
        -- the month rows the new days were added to: replaced by their sums
        delete from {{ target }} as months
        using {{ arg_dict["temp_relation"] }} as batch
        where
            months.student_id = batch.student_id
            and months.school_code = batch.school_code
            and months.school_year = batch.school_year
            and months.month_start = batch.month_start;
    {%- endif %}

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ arg_dict["temp_relation"] }}
{%- endmacro %}
