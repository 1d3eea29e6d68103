{#- Spark: a full table build (docs/scale.md, "What is portable") -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='delete+insert',
        unique_key=['school_code', 'student_id'],
        post_hook='{{ refresh_statistics(this) }}',
        pre_hook='{{ planner_without_nested_loops() }}',
        on_schema_change='fail',
        indexes=[
            {'columns': ['school_code', 'student_id'], 'unique': true},
            {'columns': ['changed_at']},
        ],
    )
}}
{#- The schedule length of every student with a day code at a school: the most periods ever
    recorded for them there (a negative-attendance school records only coded periods, so the
    schedule is otherwise unknown). fct_attendance_daily sets periods_scheduled on every day from
    it, and rebuilds every day of a student whose length changed since its last build
    (changed_at). A whole-year aggregate, kept incremental so a night reads the student-days that
    changed since its last build (day codes loaded since, or raw rows removed since):
      - a student whose maximum was first recorded on a day that did not change keeps it, so the
        new maximum is the larger of it and the changed days' maximum, and its first date moves
        only if a changed day beats it;
      - a student whose maximum was first recorded on a changed day (it may be gone), or who is
        new here, is re-read whole.
    A student with no day code left keeps a row with a null length (the daily fact rebuilds
    their days from it). -#}
-- depends_on: {{ source('aeries', 'attendance_removals') }}
{%- set day_codes = ref('int_attendance__day_codes') %}
{%- if is_incremental() and execute %}
    {#- the newest day-code load this table has seen -#}
    {%- set seen = run_query("select max(seen_loaded_at)::text from " ~ this).rows[0][0] or '-infinity' %}
    {#- The day codes loaded since, by their load times (one per window the pipeline applied),
        listed: those rows are newer than the table's statistics, where a range on loaded_at is
        estimated at a row (nested loops over CTEs: 24 s instead of 0.6 s on the large workload);
        each listed time is estimated as an average load's share. -#}
    {%- set loads = run_query(
        "select distinct loaded_at::text from " ~ day_codes ~ " where loaded_at > '" ~ seen ~ "'::timestamptz"
    ).rows %}
    {%- set load_list = [] %}
    {%- for row in loads %}
        {%- do load_list.append("'" ~ row[0] ~ "'") %}
    {%- endfor %}
    {#- the student-days that lost a raw row since, listed (the night's cleared codes, a few) -#}
    {%- set removals = source('aeries', 'attendance_removals') %}
    {%- set removed_list = [] %}
    {%- if adapter.get_relation(removals.database, removals.schema, removals.identifier) is not none %}
        {%- for row in run_query(
            "select distinct school_code, student_id, calendar_date::text from " ~ removals
            ~ " where _loaded_at > '" ~ seen ~ "'::timestamptz"
        ).rows %}
            {%- do removed_list.append("(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint, '" ~ row[2] ~ "'::date)") %}
        {%- endfor %}
    {%- endif %}
{%- endif %}

with

{% if is_incremental() %}
    -- Tonight's rows are newer than the statistics, so estimates are a row or two: nested loops
    -- are off for this model (pre-hook) and the few key lookups are lateral subqueries (kept as
    -- such by OFFSET 0), which use the key index whatever the planner guesses (a hash join
    -- there read every day code).
    changed_codes as (
        -- day codes (re)built since, by their load times
        select
            school_code,
            student_id,
            calendar_date,
            periods_recorded
        from {{ day_codes }}
        where loaded_at = any(array[{{ load_list | join(', ') or 'null' }}]::timestamptz[])
        {%- if removed_list %}
            union
            -- what is left of a student-day that lost a raw row since
            select
                left_codes.school_code,
                left_codes.student_id,
                left_codes.calendar_date,
                left_codes.periods_recorded
            from ({{ 'values ' ~ removed_list | join(', ') }}) as removed (school_code, student_id, calendar_date)
            cross join lateral (
                select
                    day_codes.school_code,
                    day_codes.student_id,
                    day_codes.calendar_date,
                    day_codes.periods_recorded
                from {{ day_codes }} as day_codes
                where
                    day_codes.school_code = removed.school_code
                    and day_codes.calendar_date = removed.calendar_date
                    and day_codes.student_id = removed.student_id
                offset 0  -- keeps the subquery a per-row lookup (not flattened into a hash join)
            ) as left_codes
        {%- endif %}
    ),

    changed_days as (
        -- the student-days whose codes changed since: (re)built day codes, and days that lost a raw row
        select
            school_code,
            student_id,
            calendar_date
        from changed_codes
        {%- if removed_list %}
            union
            select
                school_code,
                student_id,
                calendar_date
            from ({{ 'values ' ~ removed_list | join(', ') }}) as removed (school_code, student_id, calendar_date)
        {%- endif %}
    ),

    touched as (
        select distinct
            school_code,
            student_id
        from changed_days
    ),

    reread as (
        select
            touched.school_code,
            touched.student_id
        from touched
        left join {{ this }} as previous
            on
                touched.school_code = previous.school_code
                and touched.student_id = previous.student_id
        left join changed_days as maximum_day
            on
                previous.school_code = maximum_day.school_code
                and previous.student_id = maximum_day.student_id
                and previous.max_first_recorded_on = maximum_day.calendar_date
        where
            previous.student_id is null
            or previous.max_periods_recorded is null
            or maximum_day.student_id is not null
    ),
{% endif %}

codes as (
    {%- if is_incremental() %}
        -- a re-read student: every day (a lateral join, so each student is looked up by the key
        -- index whatever the planner guesses of their number: a hash join read every day code)
        select
            day_codes.school_code,
            day_codes.student_id,
            day_codes.calendar_date,
            day_codes.periods_recorded
        from reread
        cross join lateral (
            select
                student_codes.school_code,
                student_codes.student_id,
                student_codes.calendar_date,
                student_codes.periods_recorded
            from {{ day_codes }} as student_codes
            where
                student_codes.school_code = reread.school_code
                and student_codes.student_id = reread.student_id
            offset 0  -- keeps the subquery a per-row lookup (not flattened into a hash join)
        ) as day_codes
        union all
        -- any other touched student: the changed dates, and its maximum on the day first recorded
        select
            changed_codes.school_code,
            changed_codes.student_id,
            changed_codes.calendar_date,
            changed_codes.periods_recorded
        from changed_codes
        left join reread
            on
                changed_codes.school_code = reread.school_code
                and changed_codes.student_id = reread.student_id
        where reread.student_id is null
        union all
        select
            previous.school_code,
            previous.student_id,
            previous.max_first_recorded_on as calendar_date,
            previous.max_periods_recorded as periods_recorded
        from {{ this }} as previous
        inner join touched
            on
                previous.school_code = touched.school_code
                and previous.student_id = touched.student_id
        left join reread
            on
                previous.school_code = reread.school_code
                and previous.student_id = reread.student_id
        where reread.student_id is null
    {%- else %}
        select
            school_code,
            student_id,
            calendar_date,
            periods_recorded
        from {{ day_codes }}
    {%- endif %}
),

lengths as (
    select
        school_code,
        student_id,
        max(periods_recorded) as max_periods_recorded
    from codes
    group by school_code, student_id
),

first_maximum as (
    select
        codes.school_code,
        codes.student_id,
        min(codes.calendar_date) as max_first_recorded_on
    from codes
    inner join lengths
        on
            codes.school_code = lengths.school_code
            and codes.student_id = lengths.student_id
            and codes.periods_recorded = lengths.max_periods_recorded
    group by codes.school_code, codes.student_id
),

schedules as (
    select
        {%- if is_incremental() %}
            touched.school_code,
            touched.student_id,
        {%- else %}
            lengths.school_code,
            lengths.student_id,
        {%- endif %}
        lengths.max_periods_recorded,
        first_maximum.max_first_recorded_on
    {%- if is_incremental() %}
        -- a touched student with no day code left keeps a row, with no length
        from touched
        left join lengths
            on
                touched.school_code = lengths.school_code
                and touched.student_id = lengths.student_id
    {%- else %}
        from lengths
    {%- endif %}
    left join first_maximum
        on
            lengths.school_code = first_maximum.school_code
            and lengths.student_id = first_maximum.student_id
)

select
    schedules.school_code::bigint as school_code,
    schedules.student_id::bigint as student_id,
    schedules.max_periods_recorded::integer as max_periods_recorded,
    schedules.max_first_recorded_on::date as max_first_recorded_on,
    {%- if is_incremental() %}
        case
            when previous.max_periods_recorded is not distinct from schedules.max_periods_recorded
                then previous.changed_at
            else {{ dbt.current_timestamp() }}
        end::{{ type_instant() }} as changed_at,
    {%- else %}
        {{ dbt.current_timestamp() }}::{{ type_instant() }} as changed_at,
    {%- endif %}
    -- the newest day-code load when this row was built (the next build's starting point)
    (select max(all_codes.loaded_at) from {{ day_codes }} as all_codes)::{{ type_instant() }} as seen_loaded_at
from schedules
{%- if is_incremental() %}
    left join {{ this }} as previous
        on
            schedules.school_code = previous.school_code
            and schedules.student_id = previous.student_id
{%- endif %}
