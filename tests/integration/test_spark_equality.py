"""Spark equals Postgres: one small simulated district, landed twice by the project's pipelines
(Postgres by ``aeries`` and ``iready``, the Parquet lake by ``lake aeries`` and ``lake iready``),
built by dbt on both engines; the models ported to Spark (selector ``spark``, docs/scale.md) must
hold the same rows, value by value. A second night with corrections in between exercises the
lake's append-only window replacement against Postgres' delete-and-insert.

Needs the ``spark`` extra (pyspark, dbt-spark) and Java 17: marker ``spark``, which keeps it out
of a plain ``pytest``; ``make test`` installs the extra and runs it, ``make test-spark`` runs it alone.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("dbt.adapters.spark")

from dlt_pipelines import lake  # noqa: E402
from dlt_pipelines.aeries.pipeline import RunOptions  # noqa: E402
from dlt_pipelines.aeries.pipeline import run as run_aeries  # noqa: E402
from dlt_pipelines.common import warehouse  # noqa: E402
from dlt_pipelines.dbt_runner import run_dbt  # noqa: E402
from dlt_pipelines.iready.pipeline import run_iready  # noqa: E402
from dlt_pipelines.simulators.aeries_api import AeriesSimulator  # noqa: E402
from dlt_pipelines.simulators.district import District, DistrictConfig  # noqa: E402
from dlt_pipelines.simulators.iready_exports import write_district_exports  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.spark]

START = date(2024, 8, 15)
FIRST_NIGHT = date(2024, 10, 4)
SECOND_NIGHT = FIRST_NIGHT + timedelta(days=7)
MODELS = [
    "staging.stg_aeries__schools",
    "staging.stg_aeries__students",
    "staging.stg_aeries__enrollment",
    "staging.stg_aeries__calendar",
    "staging.stg_aeries__absence_codes",
    "staging.stg_aeries__attendance_days",
    "staging.stg_aeries__attendance_periods",
    "staging.stg_aeries__attendance_history_summary",
    "staging.stg_iready__diagnostic_results",
    "intermediate.int_attendance__code_categories",
    "intermediate.int_attendance__instructional_days",
    "intermediate.int_attendance__student_days",
    "intermediate.int_attendance__day_codes",
    "intermediate.int_attendance__coded_days",
    "intermediate.int_attendance__student_schedules",
    "marts.fct_attendance_daily",
    "marts.fct_attendance_periods",
    "intermediate.int_attendance__student_months",
    "marts.fct_attendance_student_year",
    "intermediate.int_iready__diagnostics_windowed",
    "marts.fct_iready_diagnostics",
    "marts.fct_iready_growth",
    "intermediate.int_students__school_years",
    "intermediate.int_students__iready_id_map",
    "intermediate.int_students__academic_risk",
    "marts.student_summary",
    "marts.school_kpis",
]
# The marts' headline figures, each computed by its own engine with the same SQL: chronic
# absence and ADA per school, period absences, i-Ready growth medians and on-grade-level counts.
FIGURES = {
    "chronic_absence_per_school": """
        select school_code, school_year, count(*) as students,
            count(case when is_chronic_absence_eligible then 1 end) as eligible,
            count(case when is_chronically_absent then 1 end) as chronically_absent,
            sum(days_absent) as days_absent
        from marts.fct_attendance_student_year group by school_code, school_year""",
    "ada_per_school": """
        select school_code, count(case when is_enrolled_day then 1 end) as enrolled_days,
            round(100.0 * count(case when is_present then 1 end)
                / count(case when is_enrolled_day then 1 end), 2) as ada_pct,
            round(avg(daily_attendance_pct), 4) as mean_daily_attendance_pct
        from marts.fct_attendance_daily group by school_code""",
    "period_absences_per_school": """
        select school_code, count(*) as coded_periods,
            count(case when is_absent then 1 end) as absent_periods,
            count(case when is_tardy then 1 end) as tardy_periods
        from marts.fct_attendance_periods group by school_code""",
    "growth_medians": """
        select subject, school_year_start, count(*) as students,
            percentile_cont(0.5) within group (order by diagnostic_gain) as median_gain,
            percentile_cont(0.5) within group (order by percent_progress_typical) as median_progress_typical,
            count(case when is_met_typical then 1 end) as met_typical
        from marts.fct_iready_growth group by subject, school_year_start""",
    "on_grade_level_latest": """
        select subject, school_year_start, count(*) as diagnostics,
            count(case when is_most_recent and is_on_or_above_grade_level then 1 end) as on_grade_level
        from marts.fct_iready_diagnostics group by subject, school_year_start""",
}
# the ported models and the seeds they read; their tests run in `make transform-spark`
BUILD = ["build", "--selector", "spark", "--resource-type", "seed", "--resource-type", "model"]
# when a row was landed, and when an attendance model was built (the incremental models'
# bookkeeping: what a build rebuilt or saw), differ between the two engines' runs by construction
LOAD_COLUMNS = {"loaded_at", "source_loaded_at", "built_at", "reprocessed_from", "source_built_at",
                "changed_at", "seen_loaded_at"}


def _norm(value):
    if isinstance(value, datetime):
        return (value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value).isoformat()
    # Postgres numeric and Spark decimal are exact and equal; the one float tolerance is for
    # percentile_cont, double precision on both, whose interpolation may differ in the last bits
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return value


def _key(row: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in row)


def _rows(rows, columns: list[str]) -> list[tuple]:
    keep = [i for i, c in enumerate(columns) if c not in LOAD_COLUMNS]
    return sorted((tuple(_norm(r[i]) for i in keep) for r in rows), key=_key)


def _postgres() -> tuple[dict, dict]:
    """Every model's columns and rows, and every figure's rows."""
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn.cursor() as cur:
            tables, figures = {}, {}
            for model in MODELS:
                cur.execute(f"select * from {model}")
                columns = [d[0] for d in cur.description]
                tables[model] = (columns, _rows(cur.fetchall(), columns))
            for name, sql in FIGURES.items():
                cur.execute(sql)
                figures[name] = _rows(cur.fetchall(), [d[0] for d in cur.description])
            return tables, figures
    finally:
        conn.close()


def _spark_env(root) -> dict[str, str]:
    return {"DBT_TARGET": "spark", "LAKE_URL": str(root / "lake"),
            "SPARK_WAREHOUSE_DIR": str(root / "spark" / "warehouse"),
            "SPARK_METASTORE_DIR": str(root / "spark" / "metastore"), "SPARK_MASTER": "local[2]"}


def _spark_tables(root) -> tuple[dict, dict]:
    """Read the built models back in a Spark session on the same metastore (dbt has ended)."""
    from pyspark.sql import SparkSession

    env = _spark_env(root)
    spark = (SparkSession.builder.master("local[1]").appName("spark-equality")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.warehouse.dir", env["SPARK_WAREHOUSE_DIR"])
             .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                     f"jdbc:derby:;databaseName={env['SPARK_METASTORE_DIR']};create=true")
             .enableHiveSupport().getOrCreate())
    try:
        tables, figures = {}, {}
        for model in MODELS:
            df = spark.table(model)
            tables[model] = (df.columns, _rows([tuple(r) for r in df.collect()], df.columns))
        for name, sql in FIGURES.items():
            df = spark.sql(sql)
            figures[name] = _rows([tuple(r) for r in df.collect()], df.columns)
        return tables, figures
    finally:
        spark.stop()


def _dbt(args: list[str], as_of: date) -> None:
    result = run_dbt([*args, "--vars", f"{{as_of_date: '{as_of}'}}"], capture=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.fixture(scope="module")
def built(new_database, tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_equality")
    district = District(DistrictConfig(seed=11, n_schools=2, students_per_school=30,
                                       start_date=START, end_date=date(2025, 6, 12)))
    env = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(root / "local"),
           "SCHOOLDATA_PIPELINES_DIR": str(root / "dlt"), "DBT_TARGET_PATH": str(root / "target"),
           "DBT_LOG_PATH": str(root / "logs"), "LAKE_URL": str(root / "lake")}
    with pytest.MonkeyPatch.context() as mp, AeriesSimulator(district, today=FIRST_NIGHT) as sim:
        mp.delenv("WAREHOUSE_DSN", raising=False)
        mp.delenv("DBT_TARGET", raising=False)
        for key, value in {**env, "AERIES_BASE_URL": sim.base_url, "AERIES_CERT": sim.cert}.items():
            mp.setenv(key, value)
        for night in (FIRST_NIGHT, SECOND_NIGHT):
            if night != FIRST_NIGHT:
                sim.advance_day((night - FIRST_NIGHT).days)
            run_aeries(RunOptions(start_date=START, end_date=night, rate_limit=0))
            # the lake keeps no window state: a nightly lake run names its look-back itself (the
            # dates the Postgres run fetches again: fetched less than 7 days after them)
            lake.run_aeries(START if night == FIRST_NIGHT else FIRST_NIGHT - timedelta(days=6), night,
                            rate_limit=0)
        # i-Ready: two header vintages side by side (the model coalesces their aliases)
        exports = root / "iready"
        for layout, year in (("legacy", "2023-2024"), ("inform", "2024-2025")):
            for path in write_district_exports(district, root / layout, seed=20240815, layout=layout):
                if path.parent.name == year:
                    (exports / year).mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, exports / year / path.name)
        run_iready(str(exports))
        lake.run_iready(str(exports))
        _dbt(BUILD, SECOND_NIGHT)
        postgres, postgres_figures = _postgres()
        for key, value in _spark_env(root).items():
            mp.setenv(key, value)
        _dbt(BUILD, SECOND_NIGHT)
        spark, spark_figures = _spark_tables(root)
        yield {"postgres": postgres, "spark": spark, "lake": root / "lake",
               "postgres_figures": postgres_figures, "spark_figures": spark_figures}


@pytest.mark.parametrize("model", MODELS)
def test_spark_model_equals_postgres(built, model):
    pg_columns, pg_rows = built["postgres"][model]
    sp_columns, sp_rows = built["spark"][model]
    assert sp_columns == pg_columns
    assert pg_rows, f"{model} is empty: the comparison would prove nothing"
    only_pg = [r for r in pg_rows if r not in set(sp_rows)]
    only_spark = [r for r in sp_rows if r not in set(pg_rows)]
    # keys and dates only in the message: never the row's other values
    assert (len(only_pg), len(only_spark)) == (0, 0), (model, [r[:3] for r in only_pg[:5]],
                                                       [r[:3] for r in only_spark[:5]])
    assert len(sp_rows) == len(pg_rows)


@pytest.mark.parametrize("figure", FIGURES)
def test_spark_mart_figures_equal_postgres(built, figure):
    """The dashboards' figures, per school or subject-year, equal on both engines."""
    pg_rows = built["postgres_figures"][figure]
    assert pg_rows, f"{figure} has no rows: the comparison would prove nothing"
    assert built["spark_figures"][figure] == pg_rows


def test_lake_keeps_every_window_and_reads_only_the_newest(built):
    """Both nights' windows are in the lake (append-only): the newer replaced the older on read."""
    import pyarrow.dataset as ds

    windows = ds.dataset(os.fspath(built["lake"] / "raw_aeries" / "attendance_windows_incoming")).to_table()
    assert len(set(windows.column("_loaded_at").to_pylist())) == 2
