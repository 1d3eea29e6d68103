{#-
    The newest value of a timestamp/date column is no older than `interval` (a Postgres
    interval literal, e.g. '2 days'). An empty model fails (nothing recent).
        - recency:
            arguments: {field: _loaded_at, interval: '1 day'}
            config: {severity: warn}
-#}
{% test recency(model, field, interval, column_name=none) %}
    with newest as (
        select max({{ field }}) as most_recent
        from {{ model }}
    )

    select most_recent
    from newest
    where
        most_recent is null
        or most_recent < current_timestamp - interval '{{ interval }}'
{% endtest %}
