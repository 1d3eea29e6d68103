{#-
    Records the pipelines refused, counted by run, resource, column and reason, for analysts
    (who may not read `ops`). Never the record (its encrypted payload stays in ops.load_rejects)
    and never a quoted value: a reason that quotes the refused value is reduced to its code or
    masked, as in `make quality`. A view, so it is as current as the last run.
-#}
{{ config(materialized='view') }}
{%- set rejects = load_relation(source('ops', 'load_rejects')) if execute else none %}
{%- if rejects is not none %}
    with

    masked as (

        select
            load_rejects.run_id,
            load_rejects.source,
            load_rejects.resource,
            coalesce(load_rejects.column_name, '') as column_name,
            case
                when load_rejects.reason ~ '^[a-z_]+: ' then split_part(load_rejects.reason, ':', 1)
                else regexp_replace(load_rejects.reason, '''[^'']*''|"[^"]*"', '''?''', 'g')
            end as reason,
            load_rejects.rejected_at
        from {{ rejects }} as load_rejects

    )

    select
        md5(concat_ws('|', run_id, source, resource, column_name, reason)) as reject_group_id,
        run_id,
        source,
        resource,
        nullif(column_name, '') as column_name,
        reason,
        count(*)::bigint as rejected_records,
        min(rejected_at) as first_rejected_at,
        max(rejected_at) as last_rejected_at
    from masked
    group by run_id, source, resource, column_name, reason
{%- else %}
    select
        null::text as reject_group_id,
        null::text as run_id,
        null::text as source,  -- noqa: RF04
        null::text as resource,  -- noqa: RF04
        null::text as column_name,
        null::text as reason,
        null::bigint as rejected_records,
        null::timestamptz as first_rejected_at,
        null::timestamptz as last_rejected_at
    where false
{%- endif %}
