{#- docs block fct_attendance_live_rules. A view: the overlay is a few pending events on the
    daily fact, so a table rebuilt every night would copy the whole year's daily fact for them
    (a cost that grows with the school year); as a view it is also live between builds. Written
    as a union of the daily fact's days and the event-only days, so a reader's date filter
    reaches the daily fact's index. -#}
{{ config(materialized='view') }}

with

daily as (
    select
        student_id,
        school_code,
        calendar_date,
        all_day_code,
        attendance_category,
        is_present,
        is_full_day_absent,
        source_loaded_at
    from {{ ref('fct_attendance_daily') }}
),

windows as (
    select
        school_code,
        start_date,
        end_date,
        applied_at
    from {{ source('ops', 'aeries_attendance_windows') }}
),

events as (
    select
        event_id,
        student_id,
        school_code,
        calendar_date,
        to_code,
        changed_at,
        received_at
    from {{ source('aeries', 'attendance_events') }}
    where period is null
),

last_windows as (
    -- the newest API window that replaced each event's school and date
    select
        events.event_id,
        max(windows.applied_at) as window_applied_at
    from events
    inner join windows
        on
            events.school_code = windows.school_code
            and events.calendar_date between windows.start_date and windows.end_date
    group by events.event_id
),

pending as (
    -- events the API has not caught up with yet
    select
        events.*,
        last_windows.window_applied_at
    from events
    left join last_windows
        on events.event_id = last_windows.event_id
    where events.changed_at > coalesce(last_windows.window_applied_at, '-infinity'::timestamptz)
),

latest as (
    select distinct on (student_id, school_code, calendar_date) *
    from pending
    order by student_id asc, school_code asc, calendar_date asc, changed_at desc, received_at desc, event_id desc
),

categories as (
    select
        school_code,
        absence_code,
        attendance_category,
        is_absence
    from {{ ref('int_attendance__code_categories') }}
),

overlaid as (
    -- the daily fact's days, with the newest pending event when there is one
    select
        daily.student_id,
        daily.school_code,
        daily.calendar_date,
        latest.event_id is not null as is_provisional,
        daily.all_day_code as api_all_day_code,
        latest.event_id as provisional_event_id,
        latest.changed_at as provisional_changed_at,
        daily.source_loaded_at,
        case when latest.event_id is null then daily.all_day_code else latest.to_code end as all_day_code,
        case
            when latest.event_id is null then daily.attendance_category
            when latest.to_code = '' then 'present'
            else coalesce(categories.attendance_category, 'unexcused')
        end as attendance_category,
        case
            when latest.event_id is null then daily.is_full_day_absent
            when latest.to_code = '' then false
            else coalesce(categories.is_absence, true)
        end as is_full_day_absent
    from daily
    left join latest
        on
            daily.student_id = latest.student_id
            and daily.school_code = latest.school_code
            and daily.calendar_date = latest.calendar_date
    left join categories
        on
            latest.school_code = categories.school_code
            and latest.to_code = categories.absence_code

    union all

    -- days only an event knows yet (today, before tonight's sync)
    select
        latest.student_id,
        latest.school_code,
        latest.calendar_date,
        true as is_provisional,
        null as api_all_day_code,
        latest.event_id as provisional_event_id,
        latest.changed_at as provisional_changed_at,
        null as source_loaded_at,
        latest.to_code as all_day_code,
        case when latest.to_code = '' then 'present' else coalesce(categories.attendance_category, 'unexcused') end
            as attendance_category,
        case when latest.to_code = '' then false else coalesce(categories.is_absence, true) end
            as is_full_day_absent
    from latest
    left join categories
        on
            latest.school_code = categories.school_code
            and latest.to_code = categories.absence_code
    where not exists (
        select 1
        from {{ ref('fct_attendance_daily') }} as known
        where
            known.student_id = latest.student_id
            and known.school_code = latest.school_code
            and known.calendar_date = latest.calendar_date
    )
)

select
    student_id::bigint as student_id,
    school_code::bigint as school_code,
    calendar_date::date as calendar_date,
    all_day_code::text as all_day_code,
    attendance_category::text as attendance_category,
    is_full_day_absent::boolean as is_full_day_absent,
    (not is_full_day_absent)::boolean as is_present,
    is_provisional::boolean as is_provisional,
    api_all_day_code::text as api_all_day_code,
    provisional_event_id::text as provisional_event_id,
    provisional_changed_at::timestamptz as provisional_changed_at,
    source_loaded_at::timestamptz as source_loaded_at
from overlaid
