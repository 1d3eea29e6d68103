{#-
    First date an incremental attendance model rebuilds (a scalar SQL expression; see the docs
    block attendance_incremental_rule). The earliest of:
      - a date whose raw Aeries rows were loaded after the newest `loaded_at_column` in the table,
      - with correction_window=true, a day still correctable now or at the previous build
        (its can_be_corrected flag may have flipped),
      - the day after the newest date in the table.
    An empty table rebuilds everything; a full build (not incremental) uses '-infinity'.
-#}
{% macro attendance_reprocess_from(loaded_at_column, raw_tables, correction_window=false) -%}
    {%- if is_incremental() -%}
        coalesce(
            least(
                {%- for raw_table in raw_tables %}
                    (
                        select min(raw_rows.calendar_date)
                        from {{ raw_table }} as raw_rows
                        where raw_rows._loaded_at > (
                            select max(prior_build.{{ loaded_at_column }}) from {{ this }} as prior_build
                        )
                    ),
                {%- endfor %}
                {%- if correction_window %}
                    (
                        select min(open_days.calendar_date)
                        from {{ ref('int_attendance__instructional_days') }} as open_days
                        where open_days.can_be_corrected
                    ),
                    (
                        select min(prior_build.calendar_date)
                        from {{ this }} as prior_build
                        where prior_build.can_be_corrected
                    ),
                {%- endif %}
                (select max(prior_build.calendar_date) + 1 from {{ this }} as prior_build)
            ),
            (select case when count(*) = 0 then '-infinity'::date end from {{ this }} as prior_build)
        )
    {%- else -%}
        '-infinity'::date
    {%- endif -%}
{%- endmacro %}

{#- The same boundary, from the model's config (reprocess_loaded_at, reprocess_sources,
    reprocess_correction_window), so the model and the replace_from_date strategy agree. -#}
{% macro attendance_reprocess_from_config() -%}
    {%- set raw_tables = [] -%}
    {%- for name in config.get('reprocess_sources', []) -%}
        {%- do raw_tables.append(source('aeries', name)) -%}
    {%- endfor -%}
    {{ attendance_reprocess_from(
        config.get('reprocess_loaded_at'), raw_tables, config.get('reprocess_correction_window', false)
    ) }}
{%- endmacro %}

{#- The row filter of an incremental attendance model: every row on a full build (no predicate,
    so the planner sees the plain join), dates from the reprocess boundary otherwise. -#}
{% macro attendance_reprocess_filter(date_column) -%}
    {%- if is_incremental() -%}
        {{ date_column }} >= (select reprocess.reprocess_from from reprocess)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
