{#-
    Column is not null on the rows that satisfy `condition` (e.g. a leave reason is required
    once a leave date exists).
        - not_null_where:
            arguments:
              condition: "leave_date is not null"
-#}
{% test not_null_where(model, column_name, condition) %}
    select *
    from {{ model }}
    where ({{ condition }}) and {{ column_name }} is null
{% endtest %}
