{#-
    `analyze <relation>` when its planner statistics are missing or stale, else nothing: the
    models' hooks (pre-hooks on the raw tables they read, post-hooks on themselves). A freshly
    landed or freshly built table has none, and a bad estimate there costs minutes; a nightly
    that changed a few days of a year changes a few per cent of the rows, and an ANALYZE of a
    large table for that cost a second per model, most of the nightly's fixed cost. Stale is
    autovacuum's own rule: more rows modified since the last analyze than `share` of the table.
    A relation that does not exist renders nothing (the model that reads it reports it).
    The counters count committed changes only, so an incremental build's own batch is counted
    at the next build's check. Postgres only: on Spark it renders nothing (no statistics to keep).
-#}
{% macro refresh_statistics(relation, share=0.1) -%}
    {{ return(adapter.dispatch('refresh_statistics', 'school_data')(relation, share)) }}
{%- endmacro %}

{% macro default__refresh_statistics(relation, share) -%}
    {%- if execute -%}
        {%- set check -%}
            select coalesce((
                select
                    (last_analyze is null and last_autoanalyze is null)
                    or n_mod_since_analyze > {{ share }} * greatest(n_live_tup, 1000)
                from pg_stat_user_tables
                where relid = to_regclass('{{ relation }}')
            ), to_regclass('{{ relation }}') is not null)
        {%- endset -%}
        {%- if run_query(check).columns[0].values()[0] -%}
            analyze {{ relation }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro spark__refresh_statistics(relation, share) -%}{%- endmacro %}

{#-
    A pre-hook for models that read tonight's rows by a load time (`built_at > ...`,
    `loaded_at > ...`): those rows are newer than the table's statistics, so the planner
    estimates a row or two where there are tens of thousands and picks nested loops (24 s instead
    of 0.6 s for the schedule lengths on the large workload). Hash joins are right for every
    join these models make, so nested loops are off for the model's transaction. Postgres only.
-#}
{% macro planner_without_nested_loops() -%}
    {{ return(adapter.dispatch('planner_without_nested_loops', 'school_data')()) }}
{%- endmacro %}

{% macro default__planner_without_nested_loops() -%}
    set local enable_nestloop = off
{%- endmacro %}

{% macro spark__planner_without_nested_loops() -%}
{%- endmacro %}
