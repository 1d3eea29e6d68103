{#- Whether the deployment has a source (docs: README "Deployment shapes"). The list comes from
    SCHOOLDATA_DBT_SOURCES, which `python -m dlt_pipelines dbt` fills from SCHOOLDATA_SOURCES or
    from the raw tables that exist; unset (dbt run by hand) means every source. dbt_project.yml
    disables the models of an absent source with the same expression (it cannot call macros). -#}
{% macro source_enabled(name) -%}
    {{ return(name in env_var('SCHOOLDATA_DBT_SOURCES', 'aeries,iready,bakalari').split(',')) }}
{%- endmacro %}
