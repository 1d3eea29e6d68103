{#-
    Engine-portable SQL for the models that run on Postgres and on Spark (docs/scale.md).
    Each macro dispatches on the adapter: postgres__ renders exactly the SQL the models had
    before they were made portable, so the Postgres path is unchanged; spark__ is the Spark SQL
    equivalent. Prefer dbt's own cross-database macros (dbt.dateadd, dbt.safe_cast, ...) and
    add one here only when dbt has none.
-#}

{#- the unbounded text type: Postgres text, Spark string -#}
{% macro type_text() -%}
    {{ return(adapter.dispatch('type_text', 'school_data')()) }}
{%- endmacro %}

{% macro default__type_text() -%}text{%- endmacro %}

{% macro spark__type_text() -%}string{%- endmacro %}


{#-
    One row per key of `relation` (a CTE name or relation): the first by `order_by` (a list of
    "expression asc|desc") within each key (`keys`, a list of expressions). Postgres keeps its
    `distinct on`; Spark numbers the rows (the extra column `_dedup_rn` is for the caller to
    leave out: the staging models select their columns by name).
-#}
{% macro latest_by_key(relation, keys, order_by) -%}
    {{ return(adapter.dispatch('latest_by_key', 'school_data')(relation, keys, order_by)) }}
{%- endmacro %}

{% macro default__latest_by_key(relation, keys, order_by) -%}
    select distinct on ({{ keys | join(', ') }}) *
    from {{ relation }}
    order by {% for k in keys %}{{ k }} asc, {% endfor %}{{ order_by | join(', ') }}
{%- endmacro %}

{% macro spark__latest_by_key(relation, keys, order_by) -%}
    select *
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ keys | join(', ') }} order by {{ order_by | join(', ') }}
            ) as _dedup_rn
        from {{ relation }}
    ) as numbered
    where _dedup_rn = 1
{%- endmacro %}


{#- ISO day of the week of a date: Monday 1 .. Sunday 7 -#}
{% macro iso_day_of_week(expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'school_data')(expr)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(expr) -%}extract(isodow from {{ expr }}){%- endmacro %}

{% macro spark__iso_day_of_week(expr) -%}extract(dayofweek_iso from {{ expr }}){%- endmacro %}


{#- exact decimals: Postgres numeric (unbounded); Spark's numeric is decimal(10, 0), so wider -#}
{% macro type_exact_numeric() -%}
    {{ return(adapter.dispatch('type_exact_numeric', 'school_data')()) }}
{%- endmacro %}

{% macro default__type_exact_numeric() -%}numeric{%- endmacro %}

{% macro spark__type_exact_numeric() -%}decimal(38, 10){%- endmacro %}


{#- an instant: Postgres timestamptz; Spark's timestamp is one (session time zone UTC) -#}
{% macro type_instant() -%}
    {{ return(adapter.dispatch('type_instant', 'school_data')()) }}
{%- endmacro %}

{% macro default__type_instant() -%}timestamptz{%- endmacro %}

{% macro spark__type_instant() -%}timestamp{%- endmacro %}


{#-
    Regular expressions (POSIX-compatible subset: classes, anchors, {m,n}, (?:...)).
    `pattern` is the pattern itself, written once; each engine quotes it its own way (Spark
    string literals treat a backslash as an escape, so it is doubled there).
-#}
{% macro regex_matches(expr, pattern, case_insensitive=false) -%}
    {{ return(adapter.dispatch('regex_matches', 'school_data')(expr, pattern, case_insensitive)) }}
{%- endmacro %}

{% macro default__regex_matches(expr, pattern, case_insensitive=false) -%}
    {{ expr }} {{ '~*' if case_insensitive else '~' }} '{{ pattern }}'
{%- endmacro %}

{% macro spark__regex_matches(expr, pattern, case_insensitive=false) -%}
    {{ expr }} rlike '{{ '(?i)' if case_insensitive }}{{ pattern | replace('\\', '\\\\') }}'
{%- endmacro %}


{#- the first match of `pattern` in `expr` (the whole match), null when none -#}
{% macro regex_substr(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_substr', 'school_data')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_substr(expr, pattern) -%}
    substring({{ expr }} from '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_substr(expr, pattern) -%}
    nullif(regexp_extract({{ expr }}, '{{ pattern | replace('\\', '\\\\') }}', 0), '')
{%- endmacro %}


{#- a date from text in a Postgres to_date format: YYYY-MM-DD, MM/DD/YYYY, MM-DD-YYYY -#}
{% macro parse_date(expr, pg_format) -%}
    {{ return(adapter.dispatch('parse_date', 'school_data')(expr, pg_format)) }}
{%- endmacro %}

{% macro default__parse_date(expr, pg_format) -%}
    to_date({{ expr }}, '{{ pg_format }}')
{%- endmacro %}

{% macro spark__parse_date(expr, pg_format) -%}
    {%- set spark_format = pg_format | replace('YYYY', 'yyyy') | replace('MM', 'M') | replace('DD', 'd') -%}
    to_date({{ expr }}, '{{ spark_format }}')
{%- endmacro %}


{#- a date after every real one (open-ended spans): Postgres 'infinity', Spark's last date -#}
{% macro date_infinity() -%}
    {{ return(adapter.dispatch('date_infinity', 'school_data')()) }}
{%- endmacro %}

{% macro default__date_infinity() -%}'infinity'::date{%- endmacro %}

{% macro spark__date_infinity() -%}date '9999-12-31'{%- endmacro %}


{#- the n-th weekday (Monday to Friday) after a date -#}
{% macro nth_weekday_after(date_expr, n) -%}
    {{ return(adapter.dispatch('nth_weekday_after', 'school_data')(date_expr, n)) }}
{%- endmacro %}

{% macro default__nth_weekday_after(date_expr, n) -%}
    (
        select max(weekday.day_date)::date
        from (
            select generated.day_date
            from generate_series(
                {{ date_expr }} + 1, {{ date_expr }} + {{ n * 2 + 7 }}, interval '1 day'
            ) as generated (day_date)
            where extract(isodow from generated.day_date) < 6
            order by generated.day_date
            limit {{ n }}
        ) as weekday
    )
{%- endmacro %}

{% macro spark__nth_weekday_after(date_expr, n) -%}
    element_at(
        filter(
            sequence(date_add({{ date_expr }}, 1), date_add({{ date_expr }}, {{ n * 2 + 7 }})),
            day_date -> extract(dayofweek_iso from day_date) < 6
        ),
        {{ n }}
    )
{%- endmacro %}


{#-
    Strings of a group joined in a given order (dbt.listagg's Spark version ignores the order);
    nulls skipped, null when there are none. Postgres string_agg(... order by ...). Spark: the
    (order, value) pairs collected and sorted, not listagg ... within group: Spark 4.x fails on
    that (ClassCastException in RewriteDistinctAggregates) next to a count(distinct ...).
-#}
{% macro ordered_string_agg(expr, delimiter, order_by) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'school_data')(expr, delimiter, order_by)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expr, delimiter, order_by) -%}
    string_agg({{ expr }}, '{{ delimiter }}' order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expr, delimiter, order_by) -%}
    case
        when count({{ expr }}) > 0
            then array_join(
                transform(
                    array_sort(collect_list(
                        case when ({{ expr }}) is not null then named_struct('k', {{ order_by }}, 'v', {{ expr }}) end
                    )),
                    pair -> pair.v
                ),
                '{{ delimiter }}'
            )
    end
{%- endmacro %}


{#- the value of a group's row with the greatest `order_by` (unique within the group) -#}
{% macro value_at_max(expr, order_by) -%}
    {{ return(adapter.dispatch('value_at_max', 'school_data')(expr, order_by)) }}
{%- endmacro %}

{% macro default__value_at_max(expr, order_by) -%}
    (array_agg({{ expr }} order by {{ order_by }} desc))[1]
{%- endmacro %}

{% macro spark__value_at_max(expr, order_by) -%}
    max_by({{ expr }}, {{ order_by }})
{%- endmacro %}


{#- a date before every real one (a full build's reprocess boundary): Postgres '-infinity' -#}
{% macro date_minus_infinity() -%}
    {{ return(adapter.dispatch('date_minus_infinity', 'school_data')()) }}
{%- endmacro %}

{% macro default__date_minus_infinity() -%}'-infinity'::date{%- endmacro %}

{% macro spark__date_minus_infinity() -%}date '0001-01-01'{%- endmacro %}
