{#- The dashboards' data-health page (docs/dashboards.md): on-run-end, the result of every data
    test the run executed replaces that test's row in marts.data_health_test_results, so analysts
    see failing tests without reading `audit`. Names, status and counts only. -#}

{% macro _data_health_literal(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ (value | string) | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}

{% macro record_test_results(results) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set tests = [] -%}
    {%- for result in results if result.node.resource_type == 'test' -%}
        {%- do tests.append(result) -%}
    {%- endfor -%}
    {%- set relation = adapter.get_relation(database=target.database, schema='marts',
                                            identifier='data_health_test_results') -%}
    {%- if not tests or relation is none -%}{{ return('') }}{%- endif -%}
    {%- set rows = [] -%}
    {%- for result in tests -%}
        {%- set node = result.node -%}
        {%- set parent = node.attached_node or (node.depends_on.nodes | first) or '' -%}
        {%- set status = result.status.value if result.status.value is defined else result.status -%}
        {%- set failures = result.failures if result.failures is number else none -%}
        {%- do rows.append('(' ~ [
            _data_health_literal(node.unique_id),
            _data_health_literal(node.name),
            _data_health_literal(parent.split('.')[-1] if parent else none),
            _data_health_literal(node.column_name),
            _data_health_literal(node.config.severity | lower),
            _data_health_literal(status),
            (failures ~ '::bigint') if failures is not none else 'null::bigint',
            _data_health_literal(node.relation_name),
            _data_health_literal(invocation_id),
            'now()',
        ] | join(', ') ~ ')') -%}
    {%- endfor %}
    delete from {{ relation }} where test_unique_id in (
        {%- for result in tests %}{{ _data_health_literal(result.node.unique_id) }}{{ ', ' if not loop.last }}{% endfor -%}
    );
    insert into {{ relation }} (test_unique_id, test_name, tested_node, column_name, severity, status,
        failures, audit_relation, invocation_id, executed_at)
    values {{ rows | join(',\n        ') }};
{%- endmacro %}
