{#-
    Snapshot clock. Postgres' own default (now()) for every snapshot, except the attendance
    snapshots (snp_attendance_*): they record versions as seen on the as-of date
    (attendance_as_of_date(): var('as_of_date'), the session setting schooldata.as_of_date, else
    today) at the current time of day, so fct_attendance_corrections judges "detected inside the
    correction window" against the simulated or replayed night, not the wall clock. With neither
    set this equals now() (current_date + localtime, both taken at the transaction start).
-#}
{% macro postgres__snapshot_get_time() -%}
    {%- set node_name = model.name if (model is defined and model is mapping and model.name) else '' -%}
    {%- if not node_name.startswith('snp_attendance') -%}
        now()::timestamp without time zone
    {%- else -%}
        ({{ attendance_as_of_date() }} + localtime)::timestamp without time zone
    {%- endif -%}
{%- endmacro %}
