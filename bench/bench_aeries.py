"""Aeries pipeline benchmark: a district's full-year backfill and the next day's incremental run.

Workload: 7 schools x 1,000 students, Aug 15 2024 - Jun 12 2025, positive attendance (every
student-day recorded, six period marks each), rate limit off. The simulator runs in its own
process and pre-renders every attendance body before the clock starts, and the pipeline runs as
``python -m dlt_pipelines aeries`` in another process, so wall time and peak RSS are the
pipeline's own; the simulator's CPU during the run is reported beside them. For scale, the time
Postgres needs to ``COPY`` the same landed rows is measured on the same server.

Run alone: ``python -m bench --only aeries`` (``--quick`` for a small smoke workload).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date

import psutil

from bench._proc import run_measured
from dlt_pipelines.common import warehouse as wh

FULL = {"n_schools": 7, "students_per_school": 1000}
QUICK = {"n_schools": 2, "students_per_school": 200}
YEAR_START, YEAR_END = date(2024, 8, 15), date(2025, 6, 12)
QUICK_END = date(2024, 10, 31)
BACKFILL_BAR_S, RSS_BAR_MB, INCREMENTAL_BAR_S = 120.0, 300.0, 15.0


# -- the simulator process ---------------------------------------------------------------------

def serve(config_json: str) -> None:
    """Child process: build the district, pre-render the backfill, then obey stdin commands."""
    from dlt_pipelines.aeries.windows import chunk_range
    from dlt_pipelines.simulators.aeries_api import AeriesSimulator
    from dlt_pipelines.simulators.district import District, DistrictConfig

    cfg = json.loads(config_json)
    end = date.fromisoformat(cfg["end"])
    district = District(DistrictConfig(seed=20240815, n_schools=cfg["n_schools"],
                                       students_per_school=cfg["students_per_school"],
                                       end_date=end, positive_schools="all"))
    sim = AeriesSimulator(district, today=end).start()
    codes = [s.school_code for s in district.schools]
    render = sim.prerender(codes, chunk_range(YEAR_START, end, 30))
    print(json.dumps({"base_url": sim.base_url, "cert": sim.cert, "prerender_seconds": render}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "advance":
            sim.advance_day(1)
            lookback = chunk_range(date.fromordinal(sim.today.toordinal() - 7), sim.today, 30)
            render = sim.prerender(codes, lookback)
            print(json.dumps({"today": sim.today.isoformat(), "prerender_seconds": render}), flush=True)
        elif command == "requests":
            print(json.dumps({"requests": sim.request_count, "render_seconds": sim.render_seconds}),
                  flush=True)
        else:
            break
    sim.stop()


class SimulatorProcess:
    def __init__(self, workload: dict, end: date):
        payload = json.dumps({**workload, "end": end.isoformat()})
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bench_aeries", "serve", payload],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ps = psutil.Process(self.proc.pid)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the Aeries simulator process exited early")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


# -- the pipeline process ----------------------------------------------------------------------

def run_pipeline(env: dict, end: date) -> tuple[float, float, int]:
    """Run the CLI; returns (wall seconds, its peak RSS in MB, exit status)."""
    args = [sys.executable, "-m", "dlt_pipelines", "aeries", "--rate-limit", "0",
            "--start-date", YEAR_START.isoformat(), "--end-date", end.isoformat()]
    # the run's own peak RSS (VmHWM), never the pages this benchmark process had when it forked it
    measured = run_measured(args, env, timeout=3600)
    if os.environ.get("BENCH_AERIES_LOG"):
        with open(os.environ["BENCH_AERIES_LOG"], "a") as log:
            log.write(measured["output"] + f"\nVmHWM {measured['peak_mb']:.1f} MB\n")
    if measured["returncode"] != 0:
        raise RuntimeError(f"aeries run failed ({measured['returncode']}): {measured['output'][-1500:]}")
    return measured["seconds"], measured["peak_mb"], measured["returncode"]


def last_run(warehouse: wh.Warehouse) -> dict:
    with wh.cursor(warehouse) as cur:
        cur.execute("select counts, requests, duration_seconds from ops.sync_runs where source = 'aeries'"
                    " order by started_at desc limit 1")
        counts, requests, duration = cur.fetchone()
    return {"counts": counts, "requests": requests, "duration": float(duration)}


def copy_seconds(warehouse: wh.Warehouse) -> tuple[float, int]:
    """Time ``COPY ... FROM STDIN`` of the landed attendance rows into empty twin tables."""
    total, rows = 0.0, 0
    for table in ("attendance_days", "attendance_periods"):
        buffer = io.BytesIO()
        with wh.cursor(warehouse) as cur:
            cur.copy_expert(f"copy raw_aeries.{table} to stdout with (format csv)", buffer)
            cur.execute(f"create temp table twin (like raw_aeries.{table})")
            buffer.seek(0)
            started = time.perf_counter()
            cur.copy_expert("copy twin from stdin with (format csv)", buffer, size=1 << 20)
            total += time.perf_counter() - started
            rows += cur.rowcount
            cur.execute("drop table twin")
    return total, rows


def _database(base: wh.Warehouse) -> tuple[wh.Warehouse, str]:
    name = f"bench_aeries_{uuid.uuid4().hex[:8]}"
    admin = wh.connect(dataclasses.replace(base, database="postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    admin.close()
    return dataclasses.replace(base, database=name), name


def _drop(base: wh.Warehouse, name: str) -> None:
    admin = wh.connect(dataclasses.replace(base, database="postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{name}"')
    admin.close()


def row(name: str, value: float | None, unit: str, bar: str | None = None, ok: bool | None = None) -> dict:
    return {"name": name, "value": value, "unit": unit, "bar": bar, "ok": ok}


def run(quick: bool = False) -> list[dict]:
    workload = QUICK if quick else FULL
    end = QUICK_END if quick else YEAR_END
    base = wh.resolve()
    warehouse, db_name = _database(base)
    sim = SimulatorProcess(workload, end)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-aeries-") as work:
            env = {**os.environ, **warehouse.libpq_env(), "SCHOOLDATA_PIPELINES_DIR": work,
                   "AERIES_BASE_URL": sim.info["base_url"], "AERIES_CERT": sim.info["cert"],
                   "SCHOOLDATA_LOG_LEVEL": os.environ.get("BENCH_AERIES_LOG_LEVEL", "WARNING")}
            env.pop("WAREHOUSE_DSN", None)
            cpu0 = sim.cpu_seconds()
            wall, rss, _ = run_pipeline(env, end)
            sim_cpu = sim.cpu_seconds() - cpu0
            backfill = last_run(warehouse)
            days = backfill["counts"].get("attendance_days", 0)
            periods = backfill["counts"].get("attendance_periods", 0)
            copy_s, copy_rows = copy_seconds(warehouse)

            sim.ask("advance")
            inc_wall, inc_rss, _ = run_pipeline(env, end)
            incremental = last_run(warehouse)
    finally:
        sim.close()
        _drop(base, db_name)
    label = "quick: " if quick else ""
    size = f"{workload['n_schools']}x{workload['students_per_school']}"
    return [
        row(f"{label}aeries backfill {size} wall", round(wall, 2), "s", f"<= {BACKFILL_BAR_S:g} s (2 cores)",
            None if quick else wall <= BACKFILL_BAR_S),
        row(f"{label}aeries backfill student-days/s", round(days / wall), "rows/s"),
        row(f"{label}aeries backfill period marks/s", round(periods / wall), "rows/s"),
        row(f"{label}aeries backfill student-days", days, "rows"),
        row(f"{label}aeries backfill period marks", periods, "rows"),
        row(f"{label}aeries backfill peak RSS", round(rss, 1), "MB", f"< {RSS_BAR_MB:g} MB",
            None if quick else rss < RSS_BAR_MB),
        row(f"{label}aeries backfill requests", backfill["requests"], "requests"),
        row(f"{label}aeries simulator CPU during backfill", round(sim_cpu, 2), "s",
            f"pre-render {sim.info['prerender_seconds']:.1f} s excluded"),
        row(f"{label}postgres COPY of the same {copy_rows} rows", round(copy_s, 2), "s"),
        row(f"{label}aeries next-day incremental wall", round(inc_wall, 2), "s", f"< {INCREMENTAL_BAR_S:g} s",
            None if quick else inc_wall < INCREMENTAL_BAR_S),
        row(f"{label}aeries next-day incremental requests", incremental["requests"], "requests"),
        row(f"{label}aeries next-day incremental peak RSS", round(inc_rss, 1), "MB"),
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        for result in run(quick="--quick" in sys.argv):
            print(result)
