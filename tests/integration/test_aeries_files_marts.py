"""The same synthetic district through the Aeries API and through Aeries CSV exports, each into a
database of its own, then the attendance marts built by a real ``dbt build`` on both: every mart
row is equal (load timestamps aside). Then a week of corrections arrives as a new export and
replaces its window exactly like the API's next night would (cleared absences vanish).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dlt_pipelines.aeries.pipeline import RunOptions
from dlt_pipelines.aeries.pipeline import run as run_aeries
from dlt_pipelines.aeries_files.pipeline import Options
from dlt_pipelines.aeries_files.pipeline import run as run_files
from dlt_pipelines.common import warehouse
from dlt_pipelines.dbt_runner import run_dbt
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.aeries_exports import write_aeries_exports
from dlt_pipelines.simulators.district import District, DistrictConfig

pytestmark = pytest.mark.integration

START = date(2024, 8, 15)
NIGHT = date(2024, 10, 4)
SELECT = ["--select", "+path:models/marts/attendance", "--indirect-selection", "cautious",
          "--exclude", "resource_type:test", "resource_type:unit_test"]
TIMING = ("loaded_at", "_loaded_at", "applied_at", "detected_at", "dbt_updated_at", "dbt_valid_from",
          "dbt_valid_to", "dbt_scd_id", "_dlt_load_id", "_dlt_id",
          # the incremental models' bookkeeping: when and from which date each row was rebuilt
          "built_at", "reprocessed_from", "source_built_at")


def _query(sql: str, params=()) -> list[tuple]:
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall()
    finally:
        conn.close()


def _marts() -> dict[str, list[tuple]]:
    """Every attendance mart (schema marts, fct_attendance_*), sorted, timing columns left out."""
    tables = [r[0] for r in _query("select table_name from information_schema.tables where table_schema ="
                                   " 'marts' and table_name like 'fct_attendance%' order by 1")]
    out = {}
    for table in tables:
        columns = [r[0] for r in _query(
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = %s"
            " order by ordinal_position", (table,)) if r[0] not in TIMING and not r[0].endswith("_loaded_at")]
        rows = _query(f"select {', '.join(columns)} from marts.{table}")
        out[table] = sorted(rows, key=repr)
    return out


def _build(as_of: date) -> None:
    result = run_dbt(["build", *SELECT, "--vars", f"{{as_of_date: '{as_of}'}}"], capture=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.fixture(scope="module")
def both(new_database, tmp_path_factory):
    district = District(DistrictConfig(seed=11, n_schools=2, students_per_school=30, start_date=START,
                                       end_date=date(2025, 6, 12)))
    tmp = tmp_path_factory.mktemp("aeries_files_marts")
    results = {}
    with AeriesSimulator(district, today=NIGHT) as sim:
        exports = tmp / "exports"
        write_aeries_exports(sim, exports, layout="labels")
        for path in ("api", "csv"):
            env = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(tmp / path / "local"),
                   "SCHOOLDATA_PIPELINES_DIR": str(tmp / path / "dlt"),
                   "DBT_TARGET_PATH": str(tmp / path / "target"), "DBT_LOG_PATH": str(tmp / path / "logs")}
            with pytest.MonkeyPatch.context() as mp:
                mp.delenv("WAREHOUSE_DSN", raising=False)
                for key, value in {**env, "AERIES_BASE_URL": sim.base_url, "AERIES_CERT": sim.cert}.items():
                    mp.setenv(key, value)
                if path == "api":
                    run_aeries(RunOptions(start_date=START, end_date=NIGHT, rate_limit=0))
                else:
                    report = run_files(Options(str(exports)))
                    assert report.count("refused") == 0 and report.rows_rejected == 0, report
                _build(NIGHT)
                results[path] = {"marts": _marts(), "env": env,
                                 "raw": _query("select count(*) from raw_aeries.attendance_days")}
                if path == "api":
                    # a district may switch paths: the exports load over the API's tables and windows
                    days_sql = ("select school_code, student_id, calendar_date, all_day_attendance_code"
                                " from raw_aeries.attendance_days order by 1, 2, 3")
                    before = _query(days_sql)
                    switched = run_files(Options(str(exports)))
                    results["switched"] = {
                        "report": switched, "before": before,
                        "after": _query(days_sql),
                        "students": _query("select count(*), count(distinct (school_code, student_id))"
                                           " from raw_aeries.students")}
                if path == "csv":
                    # a week later: a new export with the office's corrections replaces its window
                    sim.advance_day(7)
                    later = tmp / "later"
                    write_aeries_exports(sim, later, layout="codes")
                    report = run_files(Options(str(later)))
                    results["later"] = {
                        "report": report,
                        "raw": _query("select school_code, student_id, calendar_date, all_day_attendance_code"
                                      " from raw_aeries.attendance_days"),
                        "periods": _query("select count(*) from raw_aeries.attendance_periods"),
                        "truth": sorted((sc, r.student_id, r.calendar_date, r.all_day_code)
                                        for sc in (101, 102) for r in sim.expected_attendance(sc, START)),
                        "truth_periods": sum(len(r.classes) for sc in (101, 102)
                                             for r in sim.expected_attendance(sc, START)),
                        "windows": _query("select school_code, start_date, end_date, as_of from"
                                          " ops.aeries_attendance_windows order by 1, 4"),
                    }
    yield results


def test_api_and_csv_exports_give_equal_attendance_marts(both):
    api, csv_ = both["api"]["marts"], both["csv"]["marts"]
    assert set(api) == set(csv_) and len(api) >= 4, sorted(api)
    assert both["api"]["raw"] == both["csv"]["raw"] and both["api"]["raw"][0][0] > 1000
    assert sum(1 for rows in api.values() if rows) >= 4  # marts with rows, not empty tables
    for table in api:
        missing = [r for r in api[table] if r not in set(csv_[table])][:3]
        extra = [r for r in csv_[table] if r not in set(api[table])][:3]
        assert api[table] == csv_[table], (table, len(api[table]), len(csv_[table]), missing, extra)


def test_exports_load_over_what_the_api_loaded(both):
    switched = both["switched"]
    assert switched["report"].count("refused") == 0 and switched["report"].rows_rejected == 0
    assert switched["after"] == switched["before"]
    assert switched["students"][0][0] == switched["students"][0][1] > 50  # merged, not doubled


def test_a_later_export_replaces_its_window_like_the_api(both):
    later = both["later"]
    assert later["report"].count("refused") == 0
    assert sorted(later["raw"]) == later["truth"]  # corrections applied, cleared absences gone
    assert later["periods"] == [(later["truth_periods"],)]
    # each school: the first export's window, then the later one over the whole range, as of its name
    assert [(w[0], w[3]) for w in later["windows"]] == [
        (101, NIGHT), (101, NIGHT + timedelta(days=7)), (102, NIGHT), (102, NIGHT + timedelta(days=7))]
    assert all(w[1] <= START + timedelta(days=3) for w in later["windows"])
