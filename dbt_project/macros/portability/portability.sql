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
