{#-
    Foreign-key test restricted to rows matching `from_condition` (built-in `relationships`
    checks every row).
        - relationships_where:
            arguments: {to: ref('dim_school'), field: school_code, from_condition: "school_code is not null"}
-#}
{% test relationships_where(model, column_name, to, field, from_condition='true', to_condition='true') %}
    with child as (
        select * from {{ model }}
    )

    select child.{{ column_name }} as missing_key
    from child
    where
        ({{ from_condition }})
        and child.{{ column_name }} is not null
        and not exists (
            select 1
            from {{ to }} as parent
            where
                parent.{{ field }} = child.{{ column_name }}
                and ({{ to_condition }})
        )
{% endtest %}
