{#-
    First date an incremental attendance model rebuilds (see the docs block
    attendance_incremental_rule). The earliest of:
      - the first date of a school/date window the Aeries pipeline replaced after the newest
        `loaded_at_column` in the table (ops.aeries_attendance_windows.applied_at; the raw rows of
        a window carry the same time), so dates left with no rows are rebuilt too,
      - a date whose raw Aeries rows were loaded after the newest `loaded_at_column` in the table,
      - with correction_window=true, a day correctable now or at the previous build (its
        can_be_corrected flag may have flipped),
      - the day after the newest date in the table.
    An empty table rebuilds everything; a full build (not incremental) uses '-infinity'.

    Evaluated at run time as a few small queries whose results are rendered as a date literal,
    so the model's SELECT and the strategy's DELETE use the same boundary, and each lookup is one
    index probe with literal bounds the planner can estimate: the raw tables carry an index on
    (_loaded_at, calendar_date) (created by the Aeries pipeline), the models indexes on their
    loaded-at column and calendar_date (the correction-window lookup reads the calendar). As one statement
    with sub-selects the planner could not see the bounds and read whole tables: seconds per
    model on a district, minutes on a large one.
-#}
{% macro attendance_reprocess_from(loaded_at_column, raw_tables, correction_window=false, windows_table=none) -%}
    {%- if not (is_incremental() and execute) -%}
        '-infinity'::date
    {%- else -%}
        {#- two index probes; no date (calendar_date is never null) means an empty table -#}
        {%- set table_state = run_query(
            "select max(" ~ loaded_at_column ~ ")::text, max(calendar_date)::text from " ~ this
        ).rows[0] -%}
        {%- set newest_load, newest_date = table_state[0], table_state[1] -%}
        {%- if newest_date is none -%}
            '-infinity'::date
        {%- else -%}
            {#- `calendar_date + 0` keeps the planner off a min-by-ordered-index scan of all dates -#}
            {%- set candidates = ["select '" ~ newest_date ~ "'::date + 1"] -%}
            {%- for raw_table in (raw_tables if newest_load is not none else []) -%}
                {%- do candidates.append(
                    "select min(calendar_date + 0) from " ~ raw_table
                    ~ " where _loaded_at > '" ~ newest_load ~ "'::timestamptz"
                ) -%}
            {%- endfor -%}
            {#- every date of a school/date window the pipeline replaced since, rows left or not:
                a date whose only absence was cleared lands no row, but its window does -#}
            {%- if windows_table is not none -%}
                {%- do candidates.append(
                    "select min(start_date) from " ~ windows_table
                    ~ " where applied_at > '" ~ (newest_load or '-infinity') ~ "'::timestamptz"
                ) -%}
            {%- endif -%}
            {%- if correction_window -%}
                {#- a day correctable now, or at the previous build: its deadline was on or after that
                    build's as-of date, itself on or after the newest date in the table (a superset).
                    Read from the calendar (a school's days, not its students'), whose deadlines the
                    table's rows carry, so the table needs no index for it. -#}
                {%- do candidates.append(
                    "select min(calendar_date) from " ~ ref('int_attendance__instructional_days')
                    ~ " where can_be_corrected or correction_deadline >= '" ~ newest_date ~ "'::date"
                ) -%}
            {%- endif -%}
            {%- set boundary = run_query(
                "select least((" ~ candidates | join("), (") ~ "))::text"
            ).rows[0][0] -%}
            '{{ boundary }}'::date
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The same boundary, from the model's config (reprocess_loaded_at, reprocess_sources,
    reprocess_correction_window), so the model and the replace_from_date strategy agree. Models
    using it declare `-- depends_on: source('ops', 'aeries_attendance_windows')`. -#}
{% macro attendance_reprocess_from_config() -%}
    {%- if not is_incremental() -%}
        {%- do return(date_minus_infinity()) -%}
    {%- endif -%}
    {%- set cache = attendance_reprocess_cache() if execute else {} -%}
    {%- if 'boundary' not in cache -%}
        {%- do cache.update({'boundary': attendance_reprocess_boundary() | trim}) -%}
    {%- endif -%}
    {%- do return(cache['boundary']) -%}
{%- endmacro %}

{% macro attendance_reprocess_boundary() -%}
    {%- set raw_tables = [] -%}
    {%- for name in config.get('reprocess_sources', []) -%}
        {%- do raw_tables.append(source('aeries', name)) -%}
    {%- endfor -%}
    {%- set windows = source('ops', 'aeries_attendance_windows') -%}
    {%- if execute and adapter.get_relation(windows.database, windows.schema, windows.identifier) is none -%}
        {%- set windows = none -%}
    {%- endif -%}
    {{ attendance_reprocess_from(
        config.get('reprocess_loaded_at'), raw_tables, config.get('reprocess_correction_window', false),
        windows
    ) }}
{%- endmacro %}

{#- Students of fct_attendance_daily whose every row must be rebuilt: their schedule length (the
    most periods ever recorded for them at the school, which sets periods_scheduled on every day)
    changed since the table's newest build: int_attendance__student_schedules stamps a change
    (changed_at), and runs before this model. Rendered as a VALUES list, or none. Models with
    config reprocess_schedule_students=true only; none on a full build. -#}
{% macro attendance_reprocess_students() -%}
    {%- if not (is_incremental() and execute and config.get('reprocess_schedule_students', false)) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set cache = attendance_reprocess_cache() -%}
    {%- if 'students' not in cache -%}
        {%- set built = run_query("select max(built_at)::text from " ~ this).rows[0][0] or '-infinity' -%}
        {%- set rows = run_query(
            "select school_code, student_id from " ~ ref('int_attendance__student_schedules')
            ~ " where changed_at > '" ~ built ~ "'::timestamptz"
        ).rows -%}
        {%- set pairs = [] -%}
        {%- for row in rows -%}
            {%- do pairs.append("(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint)") -%}
        {%- endfor -%}
        {%- do cache.update({'students': ("values " ~ pairs | join(", ")) if pairs else none}) -%}
    {%- endif -%}
    {%- do return(cache['students']) -%}
{%- endmacro %}

{#- One cache per model and dbt invocation for the lookups above: the model's SQL, its filters and
    its incremental strategy all ask for the same boundary and students, several times each
    (each lookup is a few queries; the students' one reads the schedules). Kept in the run's
    graph, the one object every node's context shares, keyed by invocation so an in-process
    runner that reuses a manifest never sees an earlier run's answers. -#}
{% macro attendance_reprocess_cache() -%}
    {%- set caches = graph.setdefault('school_data_attendance_reprocess', {}) -%}
    {%- do return(caches.setdefault(invocation_id ~ ' ' ~ this, {})) -%}
{%- endmacro %}

{#- The row filter of an incremental attendance model: every row on a full build (no predicate,
    so the planner sees the plain join), dates from the reprocess boundary (a literal) otherwise,
    plus every date of the students attendance_reprocess_students() names. `alias` qualifies the
    key columns (school_code, student_id). -#}
{% macro attendance_reprocess_filter(date_column, alias=none) -%}
    {%- if is_incremental() -%}
        {%- set students = attendance_reprocess_students() -%}
        {%- if students is none -%}
            {{ date_column }} >= {{ attendance_reprocess_from_config() }}
        {%- else -%}
            {%- set prefix = (alias ~ '.') if alias else '' -%}
            ({{ date_column }} >= {{ attendance_reprocess_from_config() }}
            or ({{ prefix }}school_code, {{ prefix }}student_id) in ({{ students }}))
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The rows of `relation` an incremental run of fct_attendance_daily rebuilds, as a union: the
    dates from the boundary, and the earlier dates of the students attendance_reprocess_students()
    names. One predicate with an OR kept the planner off both indexes and read the whole year
    (the large workload's September nights: 44 s for the daily fact); each branch has its own. -#}
{% macro attendance_reprocess_rows(relation, alias) -%}
    {%- if not is_incremental() -%}
        select {{ alias }}.* from {{ relation }} as {{ alias }}
    {%- else -%}
        {%- set boundary = attendance_reprocess_from_config() -%}
        {%- set students = attendance_reprocess_students() -%}
        select {{ alias }}.* from {{ relation }} as {{ alias }}
        where {{ alias }}.calendar_date >= {{ boundary }}
        {%- if students is not none %}
            union all
            select {{ alias }}.* from {{ relation }} as {{ alias }}
            where
                {{ alias }}.calendar_date < {{ boundary }}
                and ({{ alias }}.school_code, {{ alias }}.student_id) in ({{ students }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
