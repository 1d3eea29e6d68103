{#-
    on-run-start on Spark: one external Parquet table per raw folder of the lake (LAKE_URL,
    written by `python -m dlt_pipelines lake ...`, dlt's filesystem destination), and the
    views that apply on read what Postgres applies on load (docs/scale.md):

    * raw_aeries.attendance_days / attendance_periods: for every school and date, only the rows
      of the newest complete window that covers it (a window is complete when as many rows
      landed as were fetched), i.e. window_store.apply_pending's replacement, append-only;
    * ops.aeries_attendance_windows: the applied windows (applied_at = when they landed);
    * raw_iready.diagnostic_results: of each export file, the rows of its newest load (a
      changed file replaces its earlier rows, as the Postgres pipeline does on load).

    The tables are dropped and created again on every run (metadata only: an external table's
    files are never deleted), so new files and new columns are seen. Only plain Parquet: never
    point LAKE_URL at a Delta or Iceberg folder (its superseded files would be read too).
    A no-op on any other adapter.
-#}
{% macro register_lake_sources() -%}
    {{ return(adapter.dispatch('register_lake_sources', 'school_data')()) }}
{%- endmacro %}

{% macro default__register_lake_sources() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__register_lake_sources() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set lake = env_var('LAKE_URL', '') | replace('\\', '/') -%}
    {%- if not lake -%}
        {{ exceptions.raise_compiler_error('LAKE_URL is not set: the Spark target reads the raw tables from it.') }}
    {%- endif -%}
    {%- set sources = env_var('SCHOOLDATA_DBT_SOURCES', 'aeries,iready').split(',') -%}
    {%- set statements = [] -%}
    {%- if 'aeries' in sources -%}
        {%- do statements.append('create schema if not exists raw_aeries') -%}
        {%- do statements.append('create schema if not exists ops') -%}
        {%- for table in ['schools', 'students', 'enrollment', 'calendar', 'absence_codes',
                          'attendance_history_summary'] -%}
            {%- do statements.append(lake_parquet_table('raw_aeries', table, lake)) -%}
        {%- endfor -%}
        {#- fixed shapes (dlt_pipelines/aeries/attendance.py): declared, so an empty folder is fine -#}
        {%- do statements.append(lake_parquet_table('raw_aeries', 'attendance_days_incoming', lake,
            'school_code bigint, student_id bigint, calendar_date date, all_day_attendance_code string,'
            ~ ' _window_key bigint, _loaded_at timestamp')) -%}
        {%- do statements.append(lake_parquet_table('raw_aeries', 'attendance_periods_incoming', lake,
            'school_code bigint, student_id bigint, calendar_date date, period string, section_number bigint,'
            ~ ' attendance_code string, _window_key bigint, _loaded_at timestamp')) -%}
        {%- do statements.append(lake_parquet_table('raw_aeries', 'attendance_windows_incoming', lake,
            'window_key bigint, school_code bigint, start_date date, end_date date, as_of date, run_id string,'
            ~ ' days bigint, periods bigint, final boolean, _loaded_at timestamp')) -%}
        {%- do statements.append(lake_attendance_views()) -%}
    {%- endif -%}
    {%- if 'iready' in sources -%}
        {%- do statements.append('create schema if not exists raw_iready') -%}
        {#- every load of a file appends its rows: its newest load replaces the earlier ones -#}
        {%- do statements.append(lake_parquet_table('raw_iready', 'diagnostic_results_landed', lake,
            folder='diagnostic_results')) -%}
        {%- do statements.append('create or replace view raw_iready.diagnostic_results as'
            ~ ' select landed.* from raw_iready.diagnostic_results_landed as landed'
            ~ ' join (select source_file, max(_dlt_load_id) as _dlt_load_id'
            ~ ' from raw_iready.diagnostic_results_landed group by source_file) as newest'
            ~ ' on landed.source_file = newest.source_file and landed._dlt_load_id = newest._dlt_load_id') -%}
    {%- endif -%}
    {%- for sql in statements -%}
        {%- for statement in (sql if sql is not string else [sql]) -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{% macro lake_parquet_table(schema, table, lake, columns=none, folder=none) -%}
    {%- set location = lake.rstrip('/') ~ '/' ~ schema ~ '/' ~ (folder or table) -%}
    {{ return([
        'drop table if exists ' ~ schema ~ '.' ~ table,
        'create table ' ~ schema ~ '.' ~ table
            ~ (' (' ~ columns ~ ')' if columns else '')
            ~ " using parquet options (mergeSchema 'true') location '" ~ location ~ "'",
    ]) }}
{%- endmacro %}

{% macro lake_attendance_views() -%}
    {%- set windows -%}
        select w.*
        from raw_aeries.attendance_windows_incoming as w
        left join (
            select _window_key, count(*) as n from raw_aeries.attendance_days_incoming group by _window_key
        ) as d on w.window_key = d._window_key
        left join (
            select _window_key, count(*) as n from raw_aeries.attendance_periods_incoming group by _window_key
        ) as p on w.window_key = p._window_key
        where w.days = coalesce(d.n, 0) and w.periods = coalesce(p.n, 0)
    {%- endset -%}
    {%- set latest -%}
        select school_code, calendar_date, window_key
        from (
            select
                school_code,
                calendar_date,
                window_key,
                row_number() over (
                    partition by school_code, calendar_date
                    order by _loaded_at desc, as_of desc, window_key desc
                ) as rn
            from (
                select school_code, window_key, as_of, _loaded_at,
                    explode(sequence(start_date, end_date)) as calendar_date
                from ops.aeries_attendance_windows_complete
            ) as covered
        ) as ranked
        where rn = 1
    {%- endset -%}
    {{ return([
        'create or replace view ops.aeries_attendance_windows_complete as ' ~ windows,
        'create or replace view ops.aeries_attendance_windows as select window_key, school_code, start_date,'
            ~ ' end_date, as_of, run_id, cast(days as int) as days, cast(periods as int) as periods, final,'
            ~ ' _loaded_at as applied_at from ops.aeries_attendance_windows_complete',
        'create or replace view raw_aeries.attendance_days as select d.school_code, d.student_id,'
            ~ ' d.calendar_date, d.all_day_attendance_code, d._loaded_at, cast(d._window_key as string)'
            ~ ' as _dlt_load_id from raw_aeries.attendance_days_incoming as d join (' ~ latest ~ ') as l'
            ~ ' on d._window_key = l.window_key and d.school_code = l.school_code'
            ~ ' and d.calendar_date = l.calendar_date',
        'create or replace view raw_aeries.attendance_periods as select d.school_code, d.student_id,'
            ~ ' d.calendar_date, d.period, d.section_number, d.attendance_code, d._loaded_at,'
            ~ ' cast(d._window_key as string) as _dlt_load_id'
            ~ ' from raw_aeries.attendance_periods_incoming as d join (' ~ latest ~ ') as l'
            ~ ' on d._window_key = l.window_key and d.school_code = l.school_code'
            ~ ' and d.calendar_date = l.calendar_date',
    ]) }}
{%- endmacro %}
