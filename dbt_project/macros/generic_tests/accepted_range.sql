{#-
    Values of a column lie within [min_value, max_value] (bounds optional; strict when inclusive=false).
    Nulls pass (combine with not_null). Optional `where` via the standard test config.
        - accepted_range:
            arguments: {min_value: 0, max_value: 100}
-#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error("accepted_range needs min_value or max_value") }}
    {%- endif -%}
    {%- set lo = '>=' if inclusive else '>' -%}
    {%- set hi = '<=' if inclusive else '<' -%}
    select {{ column_name }} as failing_value
    from {{ model }}
    where
        {{ column_name }} is not null
        and not (
            true
            {%- if min_value is not none %}
                and {{ column_name }} {{ lo }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
                and {{ column_name }} {{ hi }} {{ max_value }}
            {%- endif %}
        )
{% endtest %}
