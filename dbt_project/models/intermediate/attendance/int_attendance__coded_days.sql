{{ config(materialized='view') }}
{#- The student-days that carry an attendance event (any code but Aeries' Present mark): what
    the code history snp_attendance_codes tracks. A day that drops out (an absence cleared, or turned
    into a Present mark at a positive school) is recorded there as a deleted version. -#}
select
    school_code,
    student_id,
    calendar_date,
    all_day_code,
    all_day_category,
    period_codes,
    periods_absent,
    periods_tardy,
    loaded_at
from {{ ref('int_attendance__day_codes') }}
where has_attendance_event
