{#-
    The model is empty: every row is a failure (exception lists, e.g. unmapped students).
    Usually with `config: {severity: warn}` so the count is reported without failing.
        - has_no_rows:
            config: {severity: warn}
-#}
{% test has_no_rows(model) %}
    select *
    from {{ model }}
{% endtest %}
