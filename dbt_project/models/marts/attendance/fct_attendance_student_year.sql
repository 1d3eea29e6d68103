{#- Spark: a full table build, no contract (docs/scale.md, "What is portable") -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        contract={'enforced': target.type != 'spark'},
        incremental_strategy='replace_school_years',
        on_schema_change='fail',
        post_hook='{{ refresh_statistics(this) }}',
        pre_hook='{{ planner_without_nested_loops() }}',
        indexes=[
            {'columns': ['student_id', 'school_code', 'school_year'], 'unique': true},
            {'columns': ['school_code', 'school_year']},
            {'columns': ['source_built_at']},
            {'columns': ['last_enrolled_date']},
        ],
    )
}}
-- depends_on: {{ ref('fct_attendance_daily') }}
-- depends_on: {{ ref('int_attendance__student_enrollments') }}
-- depends_on: {{ ref('int_attendance__student_schedules') }}
{#- docs block fct_attendance_student_year_rules. Adds up int_attendance__student_months. A night
    adds the new days' totals to the rows held and adds up from their months only the students
    with an earlier day rebuilt or a changed enrollment or schedule (otherwise, e.g. on a replay:
    every student with a month rebuilt since, or enrolled on or after the first rebuilt month),
    then re-ranks the school-years it touched, keeping every other student's row as it is. -#}
{%- set threshold = var('chronic_absence_threshold', 0.10) -%}
{%- set min_days = var('chronic_min_days_enrolled', 31) | int -%}
{%- set recent_days = var('recent_window_instructional_days', 30) | int -%}
{%- set trend_band = var('attendance_trend_band_pct_points', 2) -%}
{%- set months_model = ref('int_attendance__student_months') -%}
{%- set since, first_month, appends_from, whole = none, none, none, none -%}
{%- if is_incremental() and execute -%}
    {%- set state = run_query(
        "select coalesce(max(source_built_at), '-infinity')::text, max(last_enrolled_date)::text from " ~ this
    ).rows[0] -%}
    {%- set since = state[0] -%}
    {#- a student whose enrollment or schedule length changed had every month rebuilt: touched
        by name below, so their months do not pull the first month back to the year's start -#}
    {%- set changed = attendance_students_changed_since(since)[0] -%}
    {#- the daily fact's rows rebuilt since the months this table last read (built_at,
        reprocessed_from): when its boundary lies after every day held, the new days' totals are
        added to the rows held and only the students with an earlier day rebuilt (a correction)
        or a changed enrollment or schedule are added up from their months -#}
    {%- set daily = run_query(
        "select min(reprocessed_from)::text, min(reprocessed_from) > '" ~ (state[1] or 'infinity')
        ~ "'::date, (select coalesce(max(calendar_date) + 1, '-infinity'::date) from " ~ ref('fct_attendance_daily')
        ~ " having coalesce(max(calendar_date) < '" ~ (state[1] or '-infinity') ~ "'::date, true))::text"
        ~ " from " ~ ref('fct_attendance_daily') ~ " where built_at > '" ~ since ~ "'::timestamptz"
    ).rows[0] -%}
    {#- daily[2]: the daily fact no longer reaches the newest day held (a replay of an earlier
        night dropped the later days): the day after its newest date, whose rows held must go -#}
    {%- if daily[1] is sameas true and daily[2] is none -%}
        {%- set appends_from = daily[0] -%}
        {%- set corrected = run_query(
            "select distinct school_code, student_id from " ~ ref('fct_attendance_daily')
            ~ " where built_at > '" ~ since ~ "'::timestamptz and calendar_date < '" ~ appends_from ~ "'::date"
            ~ ((" union select * from (" ~ changed ~ ") as changed") if changed else "")
        ).rows -%}
        {%- set pairs = [] -%}
        {%- for row in corrected -%}
            {%- do pairs.append("(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint)") -%}
        {%- endfor -%}
        {%- set whole = ("values " ~ pairs | join(", ")) if pairs else none -%}
    {%- else -%}
        {%- set first_month = run_query(
            "select least(coalesce(min(month_start), 'infinity'), date_trunc('month', '"
            ~ (daily[2] or 'infinity') ~ "'::date)::date)::text from " ~ months_model
            ~ " where built_at > '" ~ since ~ "'::timestamptz"
            ~ ((" and (school_code, student_id) not in (" ~ changed ~ ")") if changed else "")
        ).rows[0][0] -%}
    {%- endif -%}
{%- endif %}

with

{% if appends_from is not none %}
    {%- if whole %}
        -- the students added up from their months: an earlier day rebuilt, a changed enrollment
        -- or schedule (their rows held may vanish)
        whole as (
            select
                listed.school_code,
                listed.student_id
            from ({{ whole }}) as listed (school_code, student_id)
        ),

        whole_years as (
            select
                student_id,
                school_code,
                school_year
            from {{ months_model }}
            where (school_code, student_id) in (select school_code, student_id from whole)
            union
            select
                student_id,
                school_code,
                school_year
            from {{ this }}
            where (school_code, student_id) in (select school_code, student_id from whole)
        ),
    {%- endif %}

    -- everyone else: the new days' totals added to the row held
    added as (
        select
            student_id,
            school_code,
            school_year,
            {{ attendance_day_totals() }}
        from {{ ref('fct_attendance_daily') }}
        where
            calendar_date >= '{{ appends_from }}'::date
            and is_enrolled_day
            {%- if whole %}
                and (school_code, student_id) not in (select school_code, student_id from whole)
            {%- endif %}
        group by student_id, school_code, school_year
    ),

    appended as (
        select
            added.student_id,
            added.school_code,
            added.school_year,
            {{ attendance_added_totals('held', 'added') }},
            right(coalesce(held.recent_presence_pattern, '') || added.presence_pattern, {{ recent_days }})
                as recent_pattern,
            (select max(student_months.built_at) from {{ months_model }} as student_months) as source_built_at
        from added
        left join {{ this }} as held
            on
                added.student_id = held.student_id
                and added.school_code = held.school_code
                and added.school_year = held.school_year
    ),

    touched as (
        select
            student_id,
            school_code,
            school_year
        from appended
        {%- if whole %}
            union
            select
                student_id,
                school_code,
                school_year
            from whole_years
        {%- endif %}
    ),
{% elif since is not none %}
    touched as (
        select
            student_id,
            school_code,
            school_year
        from {{ months_model }}
        where built_at > '{{ since }}'::timestamptz
        union
        select
            student_id,
            school_code,
            school_year
        from {{ this }}
        where last_enrolled_date >= '{{ first_month }}'::date
        union
        -- every school-year of a student whose enrollment or schedule changed: rows may have vanished
        select
            previous.student_id,
            previous.school_code,
            previous.school_year
        from {{ this }} as previous
        inner join (
            select
                school_code,
                student_id
            from {{ ref('int_attendance__student_enrollments') }}
            where changed_at > '{{ since }}'::timestamptz
            union
            select
                school_code,
                student_id
            from {{ ref('int_attendance__student_schedules') }}
            where changed_at > '{{ since }}'::timestamptz
        ) as changed
            on
                previous.school_code = changed.school_code
                and previous.student_id = changed.student_id
    ),
{% endif %}

{#- the months added up: every one on a full build; else those of the students touched (when the
    new days are added, only the students added up anew) -#}
{%- set months_of = 'whole_years' if appends_from is not none else 'touched' %}
months as (
    select student_months.*
    from {{ months_model }} as student_months
    {%- if appends_from is not none and not whole %}
        where false
    {%- elif since is not none %}
        inner join {{ months_of }}
            on
                student_months.student_id = {{ months_of }}.student_id
                and student_months.school_code = {{ months_of }}.school_code
                and student_months.school_year = {{ months_of }}.school_year
    {%- endif %}
),

tiers as (
    select * from {{ ref('attendance_tiers') }}
),

totals as (
    select
        student_id,
        school_code,
        school_year,
        {{ value_at_max('grade_level', 'month_start') }} as grade_level,
        min(first_enrolled_date) as first_enrolled_date,
        max(last_enrolled_date) as last_enrolled_date,
        sum(days_enrolled) as days_enrolled,
        sum(days_present) as days_present,
        sum(days_absent) as days_absent,
        sum(days_absent_excused) as days_absent_excused,
        sum(days_absent_unexcused) as days_absent_unexcused,
        sum(days_suspended_out_of_school) as days_suspended_out_of_school,
        sum(days_suspended_in_school) as days_suspended_in_school,
        sum(days_independent_study) as days_independent_study,
        sum(days_independent_study_incomplete) as days_independent_study_incomplete,
        sum(days_tardy) as days_tardy,
        sum(days_partially_absent) as days_partially_absent,
        sum(periods_absent) as periods_absent,
        -- the last N enrolled days of the year, 1 = present
        right({{ ordered_string_agg('presence_pattern', '', 'month_start') }}, {{ recent_days }}) as recent_pattern,
        max(built_at) as source_built_at
    from months
    group by student_id, school_code, school_year
    {%- if appends_from is not none %}
        union all
        select * from appended
    {%- endif %}
),

rates as (
    select
        totals.*,
        length(totals.recent_pattern) as recent_days_enrolled,
        length(replace(totals.recent_pattern, '0', '')) as recent_days_present,
        round(100.0 * totals.days_present / totals.days_enrolled, 2) as attendance_rate,
        round(100.0 * totals.days_absent / totals.days_enrolled, 2) as absence_rate,
        totals.days_enrolled >= {{ min_days }} as is_chronic_absence_eligible,
        -- exact comparison in numeric: absent / enrolled >= threshold  <=>  absent >= threshold * enrolled
        (
            totals.days_enrolled >= {{ min_days }}
            and totals.days_absent >= {{ threshold }}::{{ type_exact_numeric() }} * totals.days_enrolled
        ) as is_chronically_absent
    from totals
),

tiered as (
    select
        rates.*,
        tiers.tier_rank as attendance_tier_rank,
        tiers.tier_name as attendance_tier,
        round(100.0 * rates.recent_days_present / nullif(rates.recent_days_enrolled, 0), 2)
            as recent_attendance_rate
    from rates
    left join tiers
        on
            100.0 * rates.days_absent / rates.days_enrolled >= tiers.min_absence_pct
            and 100.0 * rates.days_absent / rates.days_enrolled < tiers.max_absence_pct
),

recomputed as (
    select
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        school_year::{{ type_text() }} as school_year,
        grade_level::integer as grade_level,
        first_enrolled_date::date as first_enrolled_date,
        last_enrolled_date::date as last_enrolled_date,
        days_enrolled::integer as days_enrolled,
        days_present::integer as days_present,
        days_absent::integer as days_absent,
        days_absent_excused::integer as days_absent_excused,
        days_absent_unexcused::integer as days_absent_unexcused,
        days_suspended_out_of_school::integer as days_suspended_out_of_school,
        days_suspended_in_school::integer as days_suspended_in_school,
        days_independent_study::integer as days_independent_study,
        days_independent_study_incomplete::integer as days_independent_study_incomplete,
        days_tardy::integer as days_tardy,
        days_partially_absent::integer as days_partially_absent,
        periods_absent::integer as periods_absent,
        attendance_rate::numeric(5, 2) as attendance_rate,
        absence_rate::numeric(5, 2) as absence_rate,
        is_chronic_absence_eligible::boolean as is_chronic_absence_eligible,
        is_chronically_absent::boolean as is_chronically_absent,
        attendance_tier_rank::integer as attendance_tier_rank,
        attendance_tier::{{ type_text() }} as attendance_tier,
        recent_days_enrolled::integer as recent_days_enrolled,
        recent_attendance_rate::numeric(5, 2) as recent_attendance_rate,
        recent_pattern::{{ type_text() }} as recent_presence_pattern,
        (recent_attendance_rate - attendance_rate)::numeric(6, 2) as recent_rate_change_pct_points,
        source_built_at::{{ type_instant() }} as source_built_at
    from tiered
),

{% if since is not none %}
    combined as (
        select * from recomputed
        union all
        -- the untouched students of the touched school-years, as they are, to be re-ranked
        select
            kept.student_id,
            kept.school_code,
            kept.school_year,
            kept.grade_level,
            kept.first_enrolled_date,
            kept.last_enrolled_date,
            kept.days_enrolled,
            kept.days_present,
            kept.days_absent,
            kept.days_absent_excused,
            kept.days_absent_unexcused,
            kept.days_suspended_out_of_school,
            kept.days_suspended_in_school,
            kept.days_independent_study,
            kept.days_independent_study_incomplete,
            kept.days_tardy,
            kept.days_partially_absent,
            kept.periods_absent,
            kept.attendance_rate,
            kept.absence_rate,
            kept.is_chronic_absence_eligible,
            kept.is_chronically_absent,
            kept.attendance_tier_rank,
            kept.attendance_tier,
            kept.recent_days_enrolled,
            kept.recent_attendance_rate,
            kept.recent_presence_pattern,
            kept.recent_rate_change_pct_points,
            kept.source_built_at
        from {{ this }} as kept
        where
            (kept.school_code, kept.school_year) in (select school_code, school_year from touched)
            and not exists (
                select 1
                from touched
                where
                    touched.student_id = kept.student_id
                    and touched.school_code = kept.school_code
                    and touched.school_year = kept.school_year
            )
    ),
{% else %}
    combined as (
        select * from recomputed
    ),
{% endif %}

final as (
    select
        student_id,
        school_code,
        school_year,
        grade_level,
        first_enrolled_date,
        last_enrolled_date,
        days_enrolled,
        days_present,
        days_absent,
        days_absent_excused,
        days_absent_unexcused,
        days_suspended_out_of_school,
        days_suspended_in_school,
        days_independent_study,
        days_independent_study_incomplete,
        days_tardy,
        days_partially_absent,
        periods_absent,
        attendance_rate,
        absence_rate,
        is_chronic_absence_eligible,
        is_chronically_absent,
        attendance_tier_rank,
        attendance_tier,
        rank() over (
            partition by school_code, school_year, grade_level
            order by attendance_rate desc
        )::integer as attendance_rank_in_school_grade,
        recent_days_enrolled,
        recent_attendance_rate,
        recent_presence_pattern,
        recent_rate_change_pct_points,
        (
            case
                when recent_rate_change_pct_points is null then null
                when recent_rate_change_pct_points > {{ trend_band }} then 'improving'
                when recent_rate_change_pct_points < -{{ trend_band }} then 'declining'
                else 'stable'
            end
        )::{{ type_text() }} as attendance_trend,
        source_built_at
    from combined
)

select * from final
