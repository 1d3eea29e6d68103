{#- Grants (docs/security.md). Table-level SELECT grants are `+grants` in dbt_project.yml;
    these macros add what they need: whether grants are on, and USAGE on the schemas. -#}

{% macro grants_enabled() -%}
    {{- return(var('grant_roles', env_var('DBT_GRANT_ROLES', 'true')) | string | lower == 'true') -}}
{%- endmacro %}

{#- on-run-end: USAGE on each schema this run built that a reader role reads; pii_reader
    reaches marts through its membership in analyst. -#}
{% macro grant_schema_usage(schemas) -%}
    {%- set readers = {'marts': 'analyst', 'restricted': 'pii_reader'} -%}
    {%- if execute and grants_enabled() -%}
        {%- for schema in schemas if schema in readers %}
            grant usage on schema {{ adapter.quote(schema) }} to {{ adapter.quote(readers[schema]) }};
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
