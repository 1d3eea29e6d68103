{#-
    Quality signal (severity warn, set for tests/quality_signals/ in dbt_project.yml): the
    records refused by the latest finished run of each pipeline, counted by resource, column
    and reason. Stored failures hold counts only, never the refused records, and a reason
    that quotes the refused value is reduced to its code ("invalid_date: '...' is not a
    date" -> invalid_date) or has the quoted value masked, as in `make quality`. Before any
    pipeline has run the ops tables do not exist and the test has nothing to check.
-#}
{%- set runs = load_relation(source('ops', 'sync_runs')) -%}
{%- set rejects = load_relation(source('ops', 'load_rejects')) -%}
{%- if runs is not none and rejects is not none %}
    with

    latest_runs as (
        select distinct on (sync_runs.source)
            sync_runs.source,
            sync_runs.run_id,
            sync_runs.finished_at
        from {{ runs }} as sync_runs
        where sync_runs.finished_at is not null
        order by sync_runs.source asc, sync_runs.started_at desc
    ),

    latest_rejects as (
        select
            latest_runs.source,
            latest_runs.run_id,
            latest_runs.finished_at,
            load_rejects.resource,
            load_rejects.column_name,
            case
                when load_rejects.reason ~ '^[a-z_]+: ' then split_part(load_rejects.reason, ':', 1)
                else regexp_replace(load_rejects.reason, '''[^'']*''|"[^"]*"', '''?''', 'g')
            end as reason
        from {{ rejects }} as load_rejects
        inner join latest_runs on load_rejects.run_id = latest_runs.run_id
    )

    select
        source,
        run_id,
        finished_at,
        resource,
        column_name,
        reason,
        count(*) as rejected_records
    from latest_rejects
    group by source, run_id, finished_at, resource, column_name, reason
{%- else %}
    select
        null::text as source,  -- noqa: RF04
        null::text as run_id,
        null::timestamptz as finished_at,
        null::text as resource,  -- noqa: RF04
        null::text as column_name,
        null::text as reason,
        0::bigint as rejected_records
    where false
{%- endif %}
