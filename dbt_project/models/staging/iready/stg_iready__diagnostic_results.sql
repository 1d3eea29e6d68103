{#-
    One canonical, typed shape for every i-Ready "Diagnostic Results" header vintage.

    The raw table keeps whatever columns the export carried (dlt snake_cases the headers),
    so older and newer vintages land side by side: `baseline_diagnostic_y_n` next to
    `diagnostic_used_to_establish_growth_measures_y_n`, `comprehension_*` next to
    `reading_comprehension_*`, the 2026-27 "i-Ready Inform" `assessment_*` names, ...
    Each canonical column below lists its aliases, newest first; the model coalesces the
    aliases that exist in the relation (looked up at run time), so a vintage that lacks a
    column yields null instead of a compile error.
-#}
{%- set relation = source('raw_iready', 'diagnostic_results') -%}
{%- set present = [] -%}
{%- if execute -%}
    {%- for col in adapter.get_columns_in_relation(relation) -%}
        {%- do present.append(col.name | lower) -%}
    {%- endfor -%}
{%- endif -%}

{#- canonical column -> (kind, aliases newest first) -#}
{%- set domains = {
    'phonological_awareness': ['phonological_awareness'],
    'phonics': ['phonics'],
    'high_frequency_words': ['high_frequency_words'],
    'vocabulary': ['vocabulary'],
    'comprehension_overall': ['comprehension_overall', 'reading_comprehension_overall'],
    'comprehension_literature': ['comprehension_literature', 'reading_comprehension_literature'],
    'comprehension_informational_text': [
        'comprehension_informational_text', 'reading_comprehension_informational_text'
    ],
    'number_and_operations': ['number_and_operations'],
    'algebra_and_algebraic_thinking': ['algebra_and_algebraic_thinking'],
    'measurement_and_data': ['measurement_and_data'],
    'geometry': ['geometry'],
} -%}
{%- set spec = [
    ('source_line', 'int', ['source_line']),
    ('file_modified_at', 'timestamp', ['file_modified_at']),
    ('student_id', 'text', ['student_id']),
    ('subject_raw', 'lower', ['subject']),
    ('source_file_name', 'text', ['source_file', 'source_file_name', 'file_name']),
    ('academic_year_raw', 'text', ['academic_year']),
    ('school_name', 'text', ['school', 'school_name']),
    ('student_grade', 'upper', ['student_grade']),
    ('overall_placement', 'text', ['overall_placement']),
    ('overall_relative_placement', 'text', ['overall_relative_placement']),
    ('norming_window', 'text', ['norming_window']),
    ('lexile_measure', 'text', ['lexile_measure']),
    ('quantile_measure', 'text', ['quantile_measure']),
    ('diagnostic_language', 'text', ['diagnostic_language', 'assessment_language']),
] -%}
{%- for domain, aliases in domains.items() -%}
    {%- set rp = [] -%}{%- for a in aliases -%}{%- do rp.append(a ~ '_relative_placement') -%}{%- endfor -%}
    {%- do spec.append((domain ~ '_relative_placement', 'text', rp)) -%}
{%- endfor -%}
{%- do spec.extend([
    ('overall_scale_score', 'int', ['overall_scale_score']),
    ('percentile', 'int', ['percentile']),
    ('grouping_number', 'int', ['grouping']),
    ('duration_minutes', 'int', ['duration_min', 'duration']),
]) -%}
{%- for domain, aliases in domains.items() -%}
    {%- set ss = [] -%}{%- for a in aliases -%}{%- do ss.append(a ~ '_scale_score') -%}{%- endfor -%}
    {%- do spec.append((domain ~ '_scale_score', 'int', ss)) -%}
{%- endfor -%}
{%- do spec.extend([
    ('vendor_diagnostic_gain', 'int', ['diagnostic_gain', 'assessment_gain']),
    ('annual_typical_growth_measure', 'int', ['annual_typical_growth_measure']),
    ('annual_stretch_growth_measure', 'int', ['annual_stretch_growth_measure']),
    ('vendor_percent_progress_typical', 'numeric', [
        'percent_progress_to_annual_typical_growth',
        'percent_progress_to_annual_typical_growth_percent'
    ]),
    ('vendor_percent_progress_stretch', 'numeric', [
        'percent_progress_to_annual_stretch_growth',
        'percent_progress_to_annual_stretch_growth_percent'
    ]),
    ('mid_on_grade_level_scale_score', 'int', ['mid_on_grade_level_scale_score']),
    ('is_baseline_vendor', 'flag', [
        'baseline_diagnostic_y_n', 'baseline_assessment_y_n',
        'diagnostic_used_to_establish_growth_measures_y_n'
    ]),
    ('is_most_recent_vendor', 'flag', [
        'most_recent_diagnostic_y_n', 'most_recent_assessment_ytd_y_n',
        'most_recent_diagnostic_ytd_y_n'
    ]),
    ('is_rushed', 'flag', ['rush_flag']),
    ('start_date', 'date', ['start_date']),
    ('completion_date', 'date', ['completion_date']),
    ('loaded_at', 'timestamp', ['_loaded_at']),
]) -%}

{#- one text expression per canonical column: the aliases present, coalesced -#}
{%- set exprs = {} -%}
{%- for name, kind, aliases in spec -%}
    {%- set found = [] -%}
    {%- for alias in aliases if alias in present -%}
        {%- do found.append("nullif(trim(cast(" ~ adapter.quote(alias) ~ " as " ~ type_text() ~ ")), '')") -%}
    {%- endfor -%}
    {%- if found | length == 0 -%}
        {%- set v = 'cast(null as ' ~ type_text() ~ ')' -%}
    {%- elif found | length == 1 -%}
        {%- set v = found[0] -%}
    {%- else -%}
        {%- set v = 'coalesce(' ~ (found | join(', ')) ~ ')' -%}
    {%- endif -%}
    {%- set number = regex_substr(v, '^-?[0-9]+(?:[.][0-9]+)?') -%}
    {%- if kind == 'int' -%}
        {%- set e = 'cast(round(cast(' ~ number ~ ' as ' ~ type_exact_numeric() ~ ')) as integer)' -%}
    {%- elif kind == 'numeric' -%}
        {%- set e = 'cast(' ~ number ~ ' as ' ~ type_exact_numeric() ~ ')' -%}
    {%- elif kind == 'lower' -%}
        {%- set e = 'lower(' ~ v ~ ')' -%}
    {%- elif kind == 'upper' -%}
        {%- set e = 'upper(' ~ v ~ ')' -%}
    {%- elif kind == 'flag' -%}
        {%- set e = "case when upper(" ~ v ~ ") in ('Y', 'YES', 'TRUE', 'T', '1') then true"
            ~ " when upper(" ~ v ~ ") in ('N', 'NO', 'FALSE', 'F', '0') then false end" -%}
    {%- elif kind == 'date' -%}
        {%- set e = "case when " ~ regex_matches(v, '^[0-9]{4}-[0-9]{2}-[0-9]{2}')
            ~ " then " ~ parse_date("left(" ~ v ~ ", 10)", 'YYYY-MM-DD')
            ~ " when " ~ regex_matches(v, '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}')
            ~ " then " ~ parse_date("split_part(" ~ v ~ ", ' ', 1)", 'MM/DD/YYYY')
            ~ " when " ~ regex_matches(v, '^[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}')
            ~ " then " ~ parse_date("split_part(" ~ v ~ ", ' ', 1)", 'MM-DD-YYYY') ~ " end" -%}
    {%- elif kind == 'timestamp' -%}
        {%- set e = 'cast(' ~ v ~ ' as ' ~ type_instant() ~ ')' -%}
    {%- else -%}
        {%- set e = v -%}
    {%- endif -%}
    {%- do exprs.update({name: e}) -%}
{%- endfor -%}

with

source as (

    select * from {{ relation }}

),

renamed as (

    select  -- noqa: disable=LT02
        {%- for name, kind, aliases in spec %}
        {{ exprs[name] }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    -- noqa: enable=LT02

    from source

),

typed as (

    select
        *,
        case
            when subject_raw in ('math', 'mathematics') then 'math'
            when subject_raw in ('ela', 'reading', 'reading_english', 'reading (english)') then 'reading'
            when subject_raw like '%spanish%' then 'reading_spanish'
            when source_file_name ilike '%_math%' then 'math'
            when source_file_name ilike '%spanish%' then 'reading_spanish'
            when {{ regex_matches('source_file_name', '_(ela|reading)', case_insensitive=true) }} then 'reading'
        end as subject,
        coalesce(
            cast({{ regex_substr('academic_year_raw', '^[0-9]{4}') }} as integer),
            cast(
                extract(year from completion_date)
                - case when extract(month from completion_date) < 7 then 1 else 0 end
                as integer
            )
        ) as school_year_start,
        case
            when student_grade in ('K', 'KG', 'KN') then 0
            when {{ regex_matches('student_grade', '^[0-9]{1,2}$') }} then cast(student_grade as integer)
        end as grade_level
    from renamed

),

final as (

    select
        md5(concat_ws('|', subject, student_id, cast(completion_date as {{ type_text() }}))) as diagnostic_id,
        concat_ws(':', source_file_name, source_line) as source_row_id,
        student_id,
        subject,
        school_year_start,
        concat(school_year_start, '-', school_year_start + 1) as school_year,
        school_name,
        student_grade,
        grade_level,
        source_file_name,
        overall_placement,
        overall_relative_placement,
        norming_window,
        lexile_measure,
        quantile_measure,
        diagnostic_language,
        {% for domain in domains -%}
            {{ domain }}_relative_placement,
        {% endfor -%}
        overall_scale_score,
        percentile,
        grouping_number,
        duration_minutes,
        {% for domain in domains -%}
            {{ domain }}_scale_score,
        {% endfor -%}
        vendor_diagnostic_gain,
        annual_typical_growth_measure,
        annual_stretch_growth_measure,
        vendor_percent_progress_typical,
        vendor_percent_progress_stretch,
        mid_on_grade_level_scale_score,
        is_baseline_vendor,
        is_most_recent_vendor,
        is_rushed,
        start_date,
        completion_date,
        file_modified_at,
        loaded_at
    from typed

)

select * from final
