{#-
    What int_attendance__student_months rebuilds: the months from the earliest reprocess boundary
    of the fct_attendance_daily builds since its own newest build (every daily row dated on or
    after that boundary was rebuilt, vanished rows included), plus every month of the students
    whose rows were rebuilt before it (a changed schedule length). Returns a SQL predicate on
    `month_column`, `alias`.school_code and `alias`.student_id: true on a full build, false when
    no daily build ran since. Two index probes on fct_attendance_daily (built_at).
-#}
{% macro attendance_months_reprocess_filter(month_column, alias) -%}
    {%- if not (is_incremental() and execute) -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set daily = ref('fct_attendance_daily') -%}
    {%- set newest_build = run_query("select max(built_at)::text from " ~ this).rows[0][0] -%}
    {%- if newest_build is none -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set boundary = run_query(
        "select date_trunc('month', min(reprocessed_from))::date::text from " ~ daily
        ~ " where built_at > '" ~ newest_build ~ "'::timestamptz"
    ).rows[0][0] -%}
    {%- if boundary is none -%}
        {%- do return('false') -%}
    {%- endif -%}
    {%- set students = run_query(
        "select distinct school_code, student_id from " ~ daily ~ " where built_at > '" ~ newest_build
        ~ "'::timestamptz and calendar_date < '" ~ boundary ~ "'::date"
    ).rows -%}
    {%- set predicate = month_column ~ " >= '" ~ boundary ~ "'::date" -%}
    {%- if students | length > 0 -%}
        {%- set pairs = [] -%}
        {%- for row in students -%}
            {%- do pairs.append("(" ~ (row[0] | int) ~ "::bigint, " ~ (row[1] | int) ~ "::bigint)") -%}
        {%- endfor -%}
        {%- set predicate = "(" ~ predicate ~ " or (" ~ alias ~ ".school_code, " ~ alias ~ ".student_id) in (values "
            ~ pairs | join(", ") ~ "))" -%}
    {%- endif -%}
    {%- do return(predicate) -%}
{%- endmacro %}

{#- Strategy `replace_student_months`: delete the months attendance_months_reprocess_filter names
    (evaluated before the delete, so the same months the batch was built from), insert the batch. -#}
{% macro get_incremental_replace_student_months_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    delete from {{ target }} as months
    where {{ attendance_months_reprocess_filter('months.month_start', 'months') }};

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ arg_dict["temp_relation"] }}
{%- endmacro %}
