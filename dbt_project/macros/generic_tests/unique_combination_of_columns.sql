{#-
    Primary-key test for compound keys: fails with one row per duplicated key.
    Usage (model level):
        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [student_id, school_code, calendar_date]
    Rows where any key column is null also fail (a primary key is never null).
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set cols = combination_of_columns | join(', ') -%}
    with keyed as (
        select
            {{ cols }},
            count(*) as n_rows
        from {{ model }}
        group by {{ cols }}
    )

    select *
    from keyed
    where
        n_rows > 1
        {%- for col in combination_of_columns %}
            or {{ col }} is null
        {%- endfor %}
{% endtest %}
