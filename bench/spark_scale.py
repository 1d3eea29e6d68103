"""Growth curves, Postgres vs Spark: ``python -m bench.spark_scale [--sizes 2x100 4x250 ...]``.

For each district size (schools x students per school, a whole school year): land Aeries in
Postgres (``aeries``) and in the Parquet lake (``lake aeries``), build the Spark-ported models on
both engines (``dbt run --selector spark``), then time the same student-year aggregation over
the staging models on each engine (``create table ... as``: every student-day read, joined to
the calendar, grouped). Prints one JSON line per size; docs/scale.md has the figures.
Not part of ``make bench`` (it needs the ``spark`` extra): ``make setup-spark`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from dlt_pipelines.common import embedded_pg, settings, warehouse

AGGREGATE = """
select d.school_code, d.student_id, count(*) as days_recorded,
       count(d.all_day_code) as days_coded, max(d.calendar_date) as last_day
from staging.stg_aeries__attendance_days as d
join staging.stg_aeries__calendar as c
  on d.school_code = c.school_code and d.calendar_date = c.calendar_date
where c.is_instructional_day
group by d.school_code, d.student_id
"""


def _timed(fn) -> tuple[float, object]:
    t0 = time.monotonic()
    out = fn()
    return round(time.monotonic() - t0, 2), out


def _dbt(env: dict[str, str]) -> float:
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    t0 = time.monotonic()
    subprocess.run([dbt, "run", "--selector", "spark", "--vars", "{as_of_date: '2025-06-13'}"],
                   cwd=settings.dbt_project_dir(), env=env, check=True, capture_output=True)
    return round(time.monotonic() - t0, 2)


def _pg_aggregate() -> tuple[float, tuple[int, int]]:
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select count(*), pg_total_relation_size('raw_aeries.attendance_days')"
                        " from staging.stg_aeries__attendance_days")
            rows, pg_bytes = cur.fetchone()
            t0 = time.monotonic()
            cur.execute("drop table if exists public.bench_year")
            cur.execute(f"create table public.bench_year as {AGGREGATE}")
            return round(time.monotonic() - t0, 2), (rows, pg_bytes)
    finally:
        conn.close()


def _spark_aggregate(env: dict[str, str]) -> tuple[float, float]:
    from pyspark.sql import SparkSession

    t0 = time.monotonic()
    spark = (SparkSession.builder.master(env.get("SPARK_MASTER", "local[2]"))
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.warehouse.dir", env["SPARK_WAREHOUSE_DIR"])
             .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                     f"jdbc:derby:;databaseName={env['SPARK_METASTORE_DIR']};create=true")
             .enableHiveSupport().getOrCreate())
    startup = round(time.monotonic() - t0, 2)
    try:
        spark.sql("drop table if exists default.bench_year")
        t0 = time.monotonic()
        spark.sql(f"create table default.bench_year using parquet as {AGGREGATE}")
        return startup, round(time.monotonic() - t0, 2)
    finally:
        spark.stop()


def one_size(n_schools: int, per_school: int, root: Path) -> dict:
    from dlt_pipelines import lake
    from dlt_pipelines.aeries.pipeline import RunOptions
    from dlt_pipelines.aeries.pipeline import run as run_aeries
    from dlt_pipelines.simulators.aeries_api import AeriesSimulator
    from dlt_pipelines.simulators.district import District, DistrictConfig

    start, end = date(2024, 8, 15), date(2025, 6, 12)
    district = District(DistrictConfig(seed=7, n_schools=n_schools, students_per_school=per_school,
                                       start_date=start, end_date=end))
    os.environ.update({"SCHOOLDATA_PIPELINES_DIR": str(root / "dlt"), "LAKE_URL": str(root / "lake")})
    with AeriesSimulator(district, today=date(2025, 6, 13)) as sim:
        os.environ.update({"AERIES_BASE_URL": sim.base_url, "AERIES_CERT": sim.cert})
        pg_load, _ = _timed(lambda: run_aeries(RunOptions(start_date=start, end_date=end, rate_limit=0)))
        lake_load, _ = _timed(lambda: lake.run_aeries(start, end, rate_limit=0))
    from dlt_pipelines.dbt_runner import dbt_env

    pg_env = {**dbt_env(), "DBT_TARGET": "local", "DBT_TARGET_PATH": str(root / "target_pg")}
    spark_env = {**pg_env, "DBT_TARGET": "spark", "DBT_TARGET_PATH": str(root / "target_spark"),
                 "SPARK_WAREHOUSE_DIR": str(root / "spark" / "wh"),
                 "SPARK_METASTORE_DIR": str(root / "spark" / "ms")}
    pg_dbt = _dbt(pg_env)
    pg_agg, (rows, pg_bytes) = _pg_aggregate()
    days = root / "lake" / "raw_aeries" / "attendance_days_incoming"
    lake_bytes = sum(f.stat().st_size for f in days.glob("*.parquet"))
    spark_dbt = _dbt(spark_env)
    spark_startup, spark_agg = _spark_aggregate(spark_env)
    return {"schools": n_schools, "students": n_schools * per_school, "student_day_rows": rows,
            "attendance_days_bytes_postgres": pg_bytes, "attendance_days_bytes_lake": lake_bytes,
            "load_postgres_s": pg_load, "load_lake_s": lake_load, "dbt_run_postgres_s": pg_dbt,
            "dbt_run_spark_s": spark_dbt, "aggregate_postgres_s": pg_agg,
            "spark_session_start_s": spark_startup, "aggregate_spark_s": spark_agg}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark_scale")
    parser.add_argument("--sizes", nargs="*", default=["2x100", "4x250", "8x500"])
    args = parser.parse_args(argv)
    os.environ["EMBEDDED_PG_FAST"] = "1"
    with tempfile.TemporaryDirectory(prefix="spark-scale-") as tmp:
        srv = embedded_pg.server(Path(tmp) / "pg")
        conn = embedded_pg.start(srv)
        os.environ.update({"PGHOST": conn["host"], "PGPORT": str(conn["port"]), "PGUSER": conn["user"],
                           "PGPASSWORD": conn["password"], "PGDATABASE": conn["database"],
                           "SCHOOLDATA_LOCAL_DIR": str(Path(tmp) / "local"), "DBT_GRANT_ROLES": "false"})
        try:
            for size in args.sizes:
                schools, per = (int(x) for x in size.split("x"))
                # a fresh database per size: every size starts from nothing
                db = f"scale_{schools}x{per}"
                conn_ = warehouse.connect(warehouse.resolve())
                conn_.autocommit = True
                with conn_.cursor() as cur:
                    cur.execute(f'create database "{db}"')
                conn_.close()
                os.environ["PGDATABASE"] = db
                print(json.dumps(one_size(schools, per, Path(tmp) / size)), flush=True)
                os.environ["PGDATABASE"] = conn["database"]
        finally:
            embedded_pg.stop(srv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
