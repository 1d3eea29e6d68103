{#- Custom schemas are used as-is (staging, marts, ...) instead of being prefixed with the
    target schema, so analysts find `marts.student_summary` under the same name everywhere. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
