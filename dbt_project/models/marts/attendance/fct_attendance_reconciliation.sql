{#- docs block fct_attendance_reconciliation_rules -#}
{%- set metrics = [
    ('days_enrolled', 'days_enrolled', 'days_enrolled'),
    ('days_present', 'days_present', 'days_present'),
    ('days_absent', 'days_absent', 'days_absent'),
    ('days_excused', 'days_absent_excused', 'days_excused'),
    ('days_unexcused', 'days_absent_unexcused', 'days_unexcused'),
    ('days_tardy', 'days_tardy', 'days_tardy'),
    ('days_suspended_out_of_school', 'days_suspended_out_of_school', 'days_suspended_out_of_school'),
    ('days_suspended_in_school', 'days_suspended_in_school', 'days_suspended_in_school'),
] -%}

with

ours as (
    select * from {{ ref('fct_attendance_student_year') }}
),

aeries as (
    select * from {{ ref('stg_aeries__attendance_history_summary') }}
),

joined as (
    select
        coalesce(ours.student_id, aeries.student_id) as student_id,
        coalesce(ours.school_code, aeries.school_code) as school_code,
        coalesce(ours.school_year, aeries.school_year) as school_year,
        ours.student_id is not null as in_warehouse,
        aeries.student_id is not null as in_aeries,
        {%- for name, our_col, their_col in metrics %}
            coalesce(ours.{{ our_col }}, 0) as {{ name }}_ours,
            coalesce(aeries.{{ their_col }}, 0) as {{ name }}_aeries,
        {%- endfor %}
        aeries.loaded_at as aeries_loaded_at
    from ours
    full outer join aeries
        on
            ours.student_id = aeries.student_id
            and ours.school_code = aeries.school_code
            and ours.school_year = aeries.school_year
),

final as (
    select
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        school_year::text as school_year,
        in_warehouse::boolean as in_warehouse,
        in_aeries::boolean as in_aeries,
        {%- for name, our_col, their_col in metrics %}
            {{ name }}_ours::integer as {{ name }}_ours,
            {{ name }}_aeries::integer as {{ name }}_aeries,
            ({{ name }}_ours - {{ name }}_aeries)::integer as {{ name }}_diff,
        {%- endfor %}
        (
            not (in_warehouse and in_aeries)
            {%- for name, our_col, their_col in metrics %}
                or {{ name }}_ours <> {{ name }}_aeries
            {%- endfor %}
        )::boolean as has_difference,
        (
            {%- for name, our_col, their_col in metrics %}
                abs({{ name }}_ours - {{ name }}_aeries){{ ' +' if not loop.last }}
            {%- endfor %}
        )::integer as total_abs_difference,
        aeries_loaded_at::timestamptz as aeries_loaded_at
    from joined
)

select * from final
