{#-
    The pipelines' runs for the dashboards' data-health page, readable by `analyst` (who may not
    read `ops`). A view: the owner reads ops.sync_runs, so the page is as current as the last run,
    not the last dbt build. Counts and timings only: the run's options (school codes, file names)
    and the failure message stay in ops; the exception type is kept. Before any pipeline has run
    the ops tables do not exist and the view is empty.
-#}
{{ config(materialized='view') }}
{%- set runs = load_relation(source('ops', 'sync_runs')) if execute else none %}
{%- if runs is not none %}
    select
        sync_runs.run_id,
        sync_runs.source,
        sync_runs.status,
        sync_runs.started_at,
        sync_runs.finished_at,
        sync_runs.duration_seconds::numeric as duration_seconds,
        sync_runs.requests::bigint as requests,
        sync_runs.retries::bigint as retries,
        sync_runs.rejects::bigint as rejects,
        nullif(split_part(coalesce(sync_runs.error_summary, ''), ':', 1), '') as error_type,
        row_number() over (
            partition by sync_runs.source order by sync_runs.started_at desc
        )::integer as run_recency
    from {{ runs }} as sync_runs
{%- else %}
    select
        null::text as run_id,
        null::text as source,  -- noqa: RF04
        null::text as status,
        null::timestamptz as started_at,
        null::timestamptz as finished_at,
        null::numeric as duration_seconds,
        null::bigint as requests,
        null::bigint as retries,
        null::bigint as rejects,
        null::text as error_type,
        null::integer as run_recency
    where false
{%- endif %}
