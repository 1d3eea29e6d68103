{#-
    Snapshot clock. With var('as_of_date') unset this is Postgres' own default (now()). With
    as_of_date set (a reproducible build or a replay of past nights), snapshots record versions
    as seen on that date (at the current time of day), so fct_attendance_corrections judges
    "detected inside the correction window" against the simulated night, not the wall clock.
-#}
{% macro postgres__snapshot_get_time() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of is none or as_of == '' or as_of == 'null' -%}
        now()::timestamp without time zone
    {%- else -%}
        ('{{ as_of }}'::date + localtime)::timestamp without time zone
    {%- endif -%}
{%- endmacro %}
