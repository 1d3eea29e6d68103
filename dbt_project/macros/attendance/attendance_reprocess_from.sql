{#-
    What an incremental attendance model rebuilds (docs block attendance_incremental_rule): a plan
    of three parts, worked out once per model and run and written into its SQL as literals, so
    the model's SELECT and its strategy's DELETE agree and the planner sees real bounds:

      - `from`: every date on or after it (the dates after the newest one in the table, i.e. the
        new school days; for a spine model also the dates after the as-of date, which leave);
      - `flipped` (config reprocess_correction_window): the days that left the correction window
        since the previous build, rebuilt whole (their can_be_corrected flips); `flipped_keys`
        the student-days among them whose Aeries rows changed (see attendance_daily_built_at);
      - `keys`: the earlier student-days whose raw Aeries rows arrived after the newest load
        already in the table, or that lost a row since (raw_aeries.attendance_removals). The
        pipeline writes only rows that are new or changed (a re-fetched look-back keeps its load
        time), so these are the night's corrections, not its look-back window. More than
        `max_keys` of them (a refetch sweep, a first build after an upgrade) and `from` moves
        back to the earliest of them instead;
      - `students` (config reprocess_changed_students): every row of a student whose schedule
        length (int_attendance__student_schedules) or enrollment spans
        (int_attendance__student_enrollments) changed since the table's newest build.

    An empty table, or a full build, rebuilds everything (`from` = -infinity).
-#}
{% macro attendance_reprocess_plan() -%}
    {%- if not (is_incremental() and execute) -%}
        {%- do return({'from': date_minus_infinity(), 'keys': none, 'students': none, 'newest_date': none,
                       'replay': false}) -%}
    {%- endif -%}
    {%- set cache = attendance_reprocess_cache() -%}
    {%- if 'plan' not in cache -%}
        {%- do cache.update({'plan': attendance_reprocess_plan_lookup()}) -%}
    {%- endif -%}
    {%- do return(cache['plan']) -%}
{%- endmacro %}

{% macro attendance_reprocess_plan_lookup(max_keys=20000) -%}
    {%- set loaded_at_column = config.get('reprocess_loaded_at') -%}
    {#- two index probes; no date (calendar_date is never null) means an empty table -#}
    {%- set table_state = run_query(
        "select max(" ~ loaded_at_column ~ ")::text, max(calendar_date)::text, (max(calendar_date) + 1)::text"
        ~ " from " ~ this
    ).rows[0] -%}
    {%- set newest_load, newest_date, after_newest = table_state[0], table_state[1], table_state[2] -%}
    {%- if newest_date is none -%}
        {%- do return({'from': "'-infinity'::date", 'keys': none, 'students': none, 'newest_date': none,
                       'replay': false}) -%}
    {%- endif -%}
    {%- set boundary = after_newest -%}
    {%- set replay = false -%}
    {%- set as_of = run_query("select (" ~ attendance_as_of_date() ~ ")::text").rows[0][0] -%}
    {%- if config.get('reprocess_correction_window', false) -%}
        {#- the as-of date before the newest day held: a replay of an earlier night, which drops
            the later days (a spine model holds none after the as-of date) and whose flags of
            the correction window may turn back to true -#}
        {%- if as_of < newest_date -%}
            {%- set replay = true -%}
            {%- set boundary = run_query("select ('" ~ as_of ~ "'::date + 1)::text").rows[0][0] -%}
        {%- endif -%}
    {%- endif -%}
    {%- set changed = [] -%}
    {%- for name in config.get('reprocess_sources', []) + ['attendance_removals'] -%}
        {%- set raw = source('aeries', name) -%}
        {%- if adapter.get_relation(raw.database, raw.schema, raw.identifier) is not none -%}
            {#- the raw tables' (_loaded_at, calendar_date) index: the rows arrived since -#}
            {%- do changed.append(
                "select school_code, student_id, calendar_date from " ~ raw
                ~ " where _loaded_at > '" ~ (newest_load or '-infinity') ~ "'::timestamptz"
                ~ " and calendar_date < '" ~ boundary ~ "'::date"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set keys = none -%}
    {%- if changed -%}
        {%- set rows = run_query(
            "select distinct school_code, student_id, calendar_date::text from ("
            ~ changed | join(" union all ") ~ ") as changed limit " ~ (max_keys + 1)
        ).rows -%}
        {%- if rows | length > max_keys -%}
            {%- set boundary = run_query(
                "select min(calendar_date)::text from (" ~ changed | join(" union all ") ~ ") as changed"
            ).rows[0][0] -%}
        {%- elif rows | length > 0 -%}
            {%- set listed = [] -%}
            {%- for row in rows -%}
                {%- do listed.append(
                    "(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint, '" ~ row[2] ~ "'::date)"
                ) -%}
            {%- endfor -%}
            {%- set keys = "values " ~ listed | join(", ") -%}
        {%- endif -%}
    {%- endif -%}
    {#- Days that left the correction window since the previous build (deadline on or after the
        newest date the table held, which is no later than that build's as-of date, and past
        now; on a replay every day whose deadline is on or after the as-of date): their
        can_be_corrected flips, so they are rebuilt whole. An UPDATE of those rows in place cost
        3.6 s for 72 k rows on the large workload (every index takes a new entry in mid-table);
        deleting and inserting the date costs a fraction, like a new day. -#}
    {%- set flipped = [] -%}
    {%- if config.get('reprocess_correction_window', false) -%}
        {%- for row in run_query(
            "select distinct calendar_date::text from " ~ ref('int_attendance__instructional_days')
            ~ " where calendar_date < '" ~ boundary ~ "'::date and correction_deadline >= least('"
            ~ newest_date ~ "'::date, '" ~ as_of ~ "'::date)" ~ ("" if replay else " and not can_be_corrected")
            ~ " order by 1"
        ).rows -%}
            {%- do flipped.append(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set flipped_keys = none -%}
    {%- if keys is not none and flipped -%}
        {%- set kept, on_flipped = [], [] -%}
        {%- for row in rows -%}
            {%- do (on_flipped if row[2] in flipped else kept).append(
                "(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint, '" ~ row[2] ~ "'::date)"
            ) -%}
        {%- endfor -%}
        {%- set keys = ("values " ~ kept | join(", ")) if kept else none -%}
        {%- set flipped_keys = ("values " ~ on_flipped | join(", ")) if on_flipped else none -%}
    {%- endif -%}
    {%- set students = attendance_changed_students(config.get('reprocess_changed_students', false)) -%}
    {#- The dates from the boundary to the as-of date, listed: the new days lie past the
        statistics' histogram (written tonight), where a range predicate is estimated at a row or
        two and the planner picks nested loops over tens of thousands of rows; an equality list
        is estimated as a day's share of the table. Dates past the as-of date (none, normally)
        get a range branch of their own. -#}
    {%- set listed_dates = run_query(
        "select coalesce(string_agg(day::date::text, ','), ''), greatest('" ~ boundary ~ "'::date, '"
        ~ as_of ~ "'::date + 1)::text from generate_series('" ~ boundary ~ "'::date, '" ~ as_of
        ~ "'::date, interval '1 day') as day"
    ).rows[0] -%}
    {%- do return({
        'from': "'" ~ boundary ~ "'::date",
        'flipped': flipped,
        'flipped_keys': flipped_keys,
        'dates': flipped + (listed_dates[0].split(',') if listed_dates[0] else []),
        'after': "'" ~ listed_dates[1] ~ "'::date",
        'keys': keys,
        'students': students[0],
        'student_schools': students[1],
        'student_ids': students[2],
        'newest_date': newest_date,
        'replay': replay,
    }) -%}
{%- endmacro %}

{#- Students of fct_attendance_daily whose every row must be rebuilt: their schedule length (the
    most periods ever recorded for them at the school, which sets periods_scheduled on every day)
    or their enrollment spans (which set the days they have) changed since the table's newest
    build. Both models stamp a change (changed_at) and run before the fact. Rendered as a VALUES
    list of (school_code, student_id), or none. -#}
{% macro attendance_changed_students(enabled) -%}
    {%- if not enabled -%}
        {%- do return([none, none, none]) -%}
    {%- endif -%}
    {%- set built = run_query("select max(built_at)::text from " ~ this).rows[0][0] or '-infinity' -%}
    {%- do return(attendance_students_changed_since(built)) -%}
{%- endmacro %}

{#- The students whose schedule length or enrollment spans were stamped after `since` (a
    timestamp text): [VALUES list of (school_code, student_id), their schools, their ids] (the
    plain lists make conditions an index scan can use), or [none, none, none]. Shared by the
    daily fact, the student months and the student-year. -#}
{% macro attendance_students_changed_since(since) -%}
    {%- set rows = run_query(
        "select school_code, student_id from " ~ ref('int_attendance__student_schedules')
        ~ " where changed_at > '" ~ since ~ "'::timestamptz"
        ~ " union select school_code, student_id from " ~ ref('int_attendance__student_enrollments')
        ~ " where changed_at > '" ~ since ~ "'::timestamptz"
    ).rows -%}
    {%- if rows | length == 0 -%}
        {%- do return([none, none, none]) -%}
    {%- endif -%}
    {%- set pairs, schools, ids = [], [], [] -%}
    {%- for row in rows -%}
        {%- do pairs.append("(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint)") -%}
        {%- do schools.append(row[0] | int | string) -%}
        {%- do ids.append(row[1] | int | string) -%}
    {%- endfor -%}
    {%- do return(["values " ~ pairs | join(", "), schools | unique | join(", "), ids | unique | join(", ")]) -%}
{%- endmacro %}

{#- One cache per model and dbt invocation for the plan: the model's SQL, its row sources and its
    incremental strategy all ask for it. Kept in the run's graph, the one object every node's
    context shares, keyed by invocation so an in-process runner that reuses a manifest never
    sees an earlier run's answers. -#}
{% macro attendance_reprocess_cache() -%}
    {%- set caches = graph.setdefault('school_data_attendance_reprocess', {}) -%}
    {%- do return(caches.setdefault(invocation_id ~ ' ' ~ this, {})) -%}
{%- endmacro %}

{#- The rows of `relation` (a model or source with school_code, student_id and calendar_date) an
    incremental build reads, as a UNION ALL subquery with one index-friendly branch per part of
    the plan: the dates from `from` (listed up to the as-of date, a range after it); the earlier
    dates of the listed students; the listed student-days, read from `keys_relation` when given
    (the fact's own rows, whose spine columns a correction does not change). Every row on a full
    build. `columns`: the select list (`alias`.* by default). -#}
{% macro attendance_reprocess_rows(relation, alias, keys_relation=none, columns=none) -%}
    {%- set select_list = columns or (alias ~ '.*') -%}
    {%- if not is_incremental() -%}
        select {{ select_list }} from {{ relation }} as {{ alias }}
    {%- else -%}
        {%- set plan = attendance_reprocess_plan() -%}
        {%- if plan.get('dates') %}
            select {{ select_list }} from {{ relation }} as {{ alias }}
            where {{ alias }}.calendar_date = any(array['{{ plan['dates'] | join("', '") }}']::date[])
            union all
        {%- endif %}
        select {{ select_list }} from {{ relation }} as {{ alias }}
        where {{ alias }}.calendar_date >= {{ plan.get('after', plan['from']) }}
        {%- if plan['students'] is not none %}
            union all
            select {{ select_list }} from {{ relation }} as {{ alias }}
            where
                {{ alias }}.calendar_date < {{ plan['from'] }}
                -- plain array conditions reach through a view's DISTINCT ON to its tables (the spine
                -- of a few students, not the year's); the pairs then pick the exact students
                and {{ alias }}.school_code = any(array[{{ plan['student_schools'] }}]::bigint[])
                and {{ alias }}.student_id = any(array[{{ plan['student_ids'] }}]::bigint[])
                and ({{ alias }}.school_code, {{ alias }}.student_id) in ({{ plan['students'] }})
                {%- if plan.get('flipped') %}
                    and {{ alias }}.calendar_date <> all(array['{{ plan['flipped'] | join("', '") }}']::date[])
                {%- endif %}
        {%- endif %}
        {%- if plan['keys'] is not none %}
            union all
            select {{ select_list }}
            from {{ keys_relation or relation }} as {{ alias }}
            inner join ({{ plan['keys'] }}) as listed (school_code, student_id, calendar_date)
                on
                    {{ alias }}.school_code = listed.school_code
                    and {{ alias }}.calendar_date = listed.calendar_date
                    and {{ alias }}.student_id = listed.student_id
            {%- if plan['students'] is not none %}
                where ({{ alias }}.school_code, {{ alias }}.student_id) not in ({{ plan['students'] }})
            {%- endif %}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#- fct_attendance_daily's built_at: now, except on a day that left the correction window, whose
    rows are rewritten whole only because can_be_corrected flips: a row whose Aeries rows did
    not change (not in the plan's flipped_keys) and whose student's enrollment or schedule did
    not change keeps the previous build's stamp, so the models built on this one (student months,
    the newest build's row tests) see tonight's new days and real changes, not the whole day
    again. Reading the old rows back to compare them cost 1.4 s a night on the large workload. -#}
{% macro attendance_daily_built_at() -%}
    {%- set plan = attendance_reprocess_plan() if is_incremental() else {} -%}
    {%- set previous_build = run_query("select max(built_at)::text from " ~ this).rows[0][0]
        if plan.get('flipped') and execute else none -%}
    {%- if previous_build -%}
        case
            when
                calendar_date = any(array['{{ plan['flipped'] | join("', '") }}']::date[])
                {%- if plan['flipped_keys'] %}
                    and (school_code, student_id, calendar_date) not in ({{ plan['flipped_keys'] }})
                {%- endif %}
                {%- if plan['students'] %}
                    and (school_code, student_id) not in ({{ plan['students'] }})
                {%- endif %}
                then '{{ previous_build }}'::timestamptz
            else now()
        end
    {%- else -%}
        now()
    {%- endif -%}
{%- endmacro %}
