{#-
    Snapshot clock. Postgres' own default (now()) for every snapshot, except the attendance
    snapshots (snp_attendance_*) when var('as_of_date') is set (a reproducible build or a replay
    of past nights): they record versions as seen on that date (at the current time of day), so
    fct_attendance_corrections judges "detected inside the correction window" against the
    simulated night, not the wall clock.
-#}
{% macro postgres__snapshot_get_time() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- set node_name = model.name if (model is defined and model is mapping and model.name) else '' -%}
    {%- if as_of is none or as_of == '' or as_of == 'null' or not node_name.startswith('snp_attendance') -%}
        now()::timestamp without time zone
    {%- else -%}
        ('{{ as_of }}'::date + localtime)::timestamp without time zone
    {%- endif -%}
{%- endmacro %}
