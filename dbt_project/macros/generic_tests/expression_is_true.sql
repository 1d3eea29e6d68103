{#-
    Every row satisfies a SQL boolean expression (model level, or column level where the
    expression is appended to the column: `column_name ~ ' ' ~ expression`).
        - expression_is_true:
            arguments:
              expression: "days_present + days_absent = days_enrolled"
    Rows where the expression is null fail too (null is not true).
-#}
{% test expression_is_true(model, expression, column_name=none) %}
    {%- set expr = (column_name ~ ' ' ~ expression) if column_name is not none else expression -%}
    select *
    from {{ model }}
    where not coalesce(({{ expr }}), false)
{% endtest %}
