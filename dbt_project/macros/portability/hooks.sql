{#-
    The models' `analyze <relation>` hooks keep Postgres' planner statistics fresh after a load.
    Spark has no such statement for views and its cost-based optimiser is off by default, so on
    Spark those hooks are skipped; every other hook, and every hook on Postgres, runs through
    dbt's own run_hooks unchanged.
-#}
{% macro run_hooks(hooks, inside_transaction=True) %}
    {%- if target.type == 'spark' -%}
        {%- set kept = [] -%}
        {%- for hook in hooks -%}
            {%- if not ((hook.get('sql') or '') | trim | lower).startswith('analyze ') -%}
                {%- do kept.append(hook) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set hooks = kept -%}
    {%- endif -%}
    {{ return(dbt.run_hooks(hooks, inside_transaction)) }}
{% endmacro %}


{#-
    Grants on Spark: none. A local or Thrift Spark has no roles, and dbt-spark's grant handling
    starts every rebuild of a table with `show grants on`, which only Databricks understands (the
    first build passes, the second fails). Postgres keeps dbt's own apply_grants.
-#}
{% macro spark__apply_grants(relation, grant_config, should_revoke=True) %}
    {{ log("grants skipped on Spark: " ~ relation, info=false) }}
{% endmacro %}
