"""``GET /metrics``: Prometheus metrics read from the warehouse at each scrape (``ops.sync_runs``,
the dead-letter queue, the marts), plus the service's own webhook and HTTP counters.

Names (every ``source`` is ``aeries``, ``iready`` or ``bakalari``):

* ``schooldata_sync_last_success_timestamp_seconds{source}``: end of the last ``sync_ok`` run;
* ``schooldata_sync_last_run_failed{source}``: 1 when the latest finished run failed;
* ``schooldata_sync_last_run_duration_seconds{source}``;
* ``schooldata_sync_last_run_rows_loaded{source}`` / ``..._rows_rejected{source}``;
* ``schooldata_sync_runs_total{source,status}``, ``schooldata_sync_rows_loaded_total{source}``,
  ``schooldata_sync_rows_rejected_total{source}``, ``schooldata_sync_requests_total{source}``,
  ``schooldata_sync_retries_total{source}``: sums over every recorded run;
* ``schooldata_sync_http_responses_total{source,code}``: HTTP status counts the runs recorded;
* ``schooldata_circuit_breaker_open{source}``: 1 when the latest run stopped on an open breaker;
* ``schooldata_webhook_dead_letters{source}``: dead letters not yet replayed (the queue depth);
* ``schooldata_mart_freshness_lag_seconds{source,mart}``: now minus the newest load time in the mart;
* ``schooldata_webhook_deliveries_total{outcome}`` and ``schooldata_http_requests_total{route,code}``
  (this process).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dlt_pipelines.common import deployment
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.logs import event, get_logger

log = get_logger("ops_service")

HTTP_PREFIX = "http_status_"  # keys of sync_runs.counts that are HTTP status counts, not rows

# the marts that carry the load time of their rows (the others are rebuilt whole each night)
MARTS = {
    "aeries": ("fct_attendance_daily", "source_loaded_at"),
}


class WarehouseCollector(Collector):
    def __init__(self, warehouse: wh.Warehouse | None = None):
        self.warehouse = warehouse

    def collect(self):
        try:
            yield from self._collect()
        except Exception as exc:  # a scrape must answer; the up metric says the warehouse failed
            event(log, "metrics_warehouse_error", error=type(exc).__name__)
            yield GaugeMetricFamily(
                "schooldata_warehouse_up", "1 when the warehouse answered this scrape", value=0
            )

    def _collect(self):
        sources = list(deployment.ALL_SOURCES)
        g = {
            "success": GaugeMetricFamily(
                "schooldata_sync_last_success_timestamp_seconds",
                "Unix time the last successful run of the source finished",
                labels=["source"],
            ),
            "failed": GaugeMetricFamily(
                "schooldata_sync_last_run_failed",
                "1 when the latest finished run of the source failed",
                labels=["source"],
            ),
            "duration": GaugeMetricFamily(
                "schooldata_sync_last_run_duration_seconds",
                "Duration of the latest finished run",
                labels=["source"],
            ),
            "rows": GaugeMetricFamily(
                "schooldata_sync_last_run_rows_loaded",
                "Rows the latest finished run loaded",
                labels=["source"],
            ),
            "rejected": GaugeMetricFamily(
                "schooldata_sync_last_run_rows_rejected",
                "Rows the latest finished run rejected",
                labels=["source"],
            ),
            "breaker": GaugeMetricFamily(
                "schooldata_circuit_breaker_open",
                "1 when the latest run stopped on an open circuit breaker",
                labels=["source"],
            ),
            "running": GaugeMetricFamily(
                "schooldata_sync_running", "Runs of the source marked running", labels=["source"]
            ),
        }
        c = {
            "runs": CounterMetricFamily(
                "schooldata_sync_runs", "Recorded runs by final status", labels=["source", "status"]
            ),
            "rows": CounterMetricFamily(
                "schooldata_sync_rows_loaded", "Rows loaded over every run", labels=["source"]
            ),
            "rejected": CounterMetricFamily(
                "schooldata_sync_rows_rejected", "Rows rejected over every run", labels=["source"]
            ),
            "requests": CounterMetricFamily(
                "schooldata_sync_requests", "HTTP requests over every run", labels=["source"]
            ),
            "retries": CounterMetricFamily(
                "schooldata_sync_retries", "HTTP retries over every run", labels=["source"]
            ),
            "http": CounterMetricFamily(
                "schooldata_sync_http_responses",
                "HTTP responses by status over every run",
                labels=["source", "code"],
            ),
        }
        dead = GaugeMetricFamily(
            "schooldata_webhook_dead_letters", "Dead letters waiting (not replayed)", labels=["source"]
        )
        lag = GaugeMetricFamily(
            "schooldata_mart_freshness_lag_seconds",
            "Seconds since the newest row load time in the source's main mart",
            labels=["source", "mart"],
        )
        with wh.cursor(self.warehouse) as cur:
            cur.execute(
                "select to_regclass('ops.sync_runs') is not null,"
                " to_regclass('ops.webhook_dead_letters') is not null"
            )
            has_runs, has_dead = cur.fetchone()
            if has_runs:
                cur.execute("""
                    with finished as (
                        select distinct on (source)
                            source, status, duration_seconds, rejects, counts, error_summary
                        from ops.sync_runs where status <> 'running' order by source, started_at desc
                    )
                    select f.source, f.status = 'sync_fail', f.duration_seconds, f.rejects, f.counts,
                           coalesce(f.error_summary like 'CircuitOpenError%', false)
                    from finished f""")
                for source, failed, duration, rejects, counts, breaker in cur.fetchall():
                    rows = sum(
                        v for k, v in (counts or {}).items() if _is_row_key(k) and isinstance(v, int | float)
                    )
                    g["failed"].add_metric([source], int(failed))
                    g["duration"].add_metric([source], float(duration or 0))
                    g["rejected"].add_metric([source], rejects or 0)
                    g["rows"].add_metric([source], float(rows))
                    g["breaker"].add_metric([source], int(breaker))
                cur.execute(
                    "select source, extract(epoch from max(finished_at)) from ops.sync_runs"
                    " where status = 'sync_ok' group by source"
                )
                for source, ts in cur.fetchall():
                    g["success"].add_metric([source], float(ts))
                cur.execute(
                    "select source, status, count(*), coalesce(sum(rejects), 0), coalesce(sum(requests), 0),"
                    " coalesce(sum(retries), 0) from ops.sync_runs group by source, status"
                )
                totals: dict[str, list[float]] = {}
                running = dict.fromkeys(sources, 0)
                for source, status, n, rejects, requests, retries in cur.fetchall():
                    if status == "running":
                        running[source] = n
                    else:
                        c["runs"].add_metric([source, status], n)
                    t = totals.setdefault(source, [0, 0, 0])
                    t[0] += rejects
                    t[1] += requests
                    t[2] += retries
                for source, (rejects, requests, retries) in totals.items():
                    c["rejected"].add_metric([source], rejects)
                    c["requests"].add_metric([source], requests)
                    c["retries"].add_metric([source], retries)
                for source, n in running.items():
                    g["running"].add_metric([source], n)
                cur.execute("""
                    select source, key, sum(value::numeric) from ops.sync_runs, jsonb_each_text(counts)
                    where value ~ '^[0-9]+$' group by source, key""")
                rows_total: dict[str, float] = {}
                for source, key, value in cur.fetchall():
                    if key.startswith(HTTP_PREFIX):
                        c["http"].add_metric([source, key[len(HTTP_PREFIX) :]], float(value))
                    elif _is_row_key(key):
                        rows_total[source] = rows_total.get(source, 0) + float(value)
                for source, value in rows_total.items():
                    c["rows"].add_metric([source], value)
            if has_dead:
                cur.execute(
                    "select source, count(*) filter (where replayed_at is null)"
                    " from ops.webhook_dead_letters group by source"
                )
                depth = dict(cur.fetchall())
            else:
                depth = {}
            dead.add_metric(["aeries_webhook"], depth.get("aeries_webhook", 0))
            for source, (mart, column) in MARTS.items():
                cur.execute("select to_regclass(%s) is not null", (f"marts.{mart}",))
                if not cur.fetchone()[0]:
                    continue
                cur.execute(f"select extract(epoch from now() - max({column})) from marts.{mart}")
                value = cur.fetchone()[0]
                if value is not None:
                    lag.add_metric([source, mart], float(value))
        yield from g.values()
        yield from c.values()
        yield dead
        yield lag
        yield GaugeMetricFamily(
            "schooldata_warehouse_up", "1 when the warehouse answered this scrape", value=1
        )


def _is_row_key(key: str) -> bool:
    return not (
        key.startswith(HTTP_PREFIX) or key.endswith(("_deleted", "_failed", "_held_back", "_windows"))
    )


class ServiceMetrics:
    def __init__(self, warehouse: wh.Warehouse | None = None):
        self.registry = CollectorRegistry()
        self.registry.register(WarehouseCollector(warehouse))
        self.webhooks = Counter(
            "schooldata_webhook_deliveries",
            "Webhook deliveries by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.http = Counter(
            "schooldata_http_requests",
            "Requests this service answered",
            ["route", "code"],
            registry=self.registry,
        )
        self.started = time.time()
