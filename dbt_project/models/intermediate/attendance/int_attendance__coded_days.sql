{{ config(materialized='view') }}
{#- The student-days that carry an attendance event (any code but Aeries' Present mark): what
    the snapshot snp_attendance_codes tracks. A day that drops out (an absence cleared, or turned
    into a Present mark at a positive school) is recorded by the snapshot as a deleted version. -#}
select
    school_code,
    student_id,
    calendar_date,
    all_day_code,
    all_day_category,
    period_codes,
    periods_absent,
    periods_tardy
from {{ ref('int_attendance__day_codes') }}
where has_attendance_event
