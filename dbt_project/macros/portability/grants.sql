{#-
    Grants on Spark: none. A local or Thrift Spark has no roles, and dbt-spark's grant handling
    starts every rebuild of a table with `show grants on`, which only Databricks understands (the
    first build passes, the second fails). Postgres keeps dbt's own apply_grants.
-#}
{% macro spark__apply_grants(relation, grant_config, should_revoke=True) %}
    {{ log("grants skipped on Spark: " ~ relation, info=false) }}
{% endmacro %}
