"""Attendance marts end to end: a small simulated district, landed by the Aeries pipeline, built
by a real `dbt build`, checked against the simulator's truth; then the clock moves on with
corrections, the pipeline runs again, and the incremental models (daily and period facts, day
codes) must equal a full refresh.

Three dbt invocations in all (build, incremental build, full refresh of the incremental models),
so the module stays well under three minutes on two shared cores.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dlt_pipelines.aeries.pipeline import RunOptions
from dlt_pipelines.aeries.pipeline import run as run_aeries
from dlt_pipelines.common import warehouse
from dlt_pipelines.dbt_runner import run_dbt
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.attendance_gen import CODE_BY_LETTER, is_absence
from dlt_pipelines.simulators.district import District, DistrictConfig

pytestmark = pytest.mark.integration

START = date(2024, 8, 15)
FIRST_NIGHT = date(2024, 10, 4)     # about 7 weeks in: some students pass 31 enrolled days
SECOND_NIGHT = FIRST_NIGHT + timedelta(days=7)
SELECT = ["--select", "+path:models/marts/attendance", "--indirect-selection", "cautious"]
INCREMENTAL = [("marts", "fct_attendance_daily"), ("marts", "fct_attendance_periods"),
               ("intermediate", "int_attendance__day_codes"),
               ("intermediate", "int_attendance__student_months"), ("marts", "fct_attendance_student_year"),
               ("intermediate", "int_attendance__student_schedules"),
               ("staging", "stg_aeries__attendance_days"), ("staging", "stg_aeries__attendance_periods")]
# when a row was built and from which boundary: bookkeeping, not data
BUILD_COLUMNS = ("built_at", "reprocessed_from", "source_built_at", "changed_at", "seen_loaded_at")


def _dbt(args: list[str], as_of: date) -> str:
    result = run_dbt([*args, *SELECT, "--vars", f"{{as_of_date: '{as_of}'}}"], capture=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _query(sql: str, params=()) -> list[tuple]:
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def built(new_database, tmp_path_factory):
    """Run the whole scenario once; tests read what it left in the warehouse."""
    district = District(DistrictConfig(seed=11, n_schools=2, students_per_school=30,
                                       start_date=START, end_date=date(2025, 6, 12)))
    tmp = tmp_path_factory.mktemp("dbt_attendance")
    env = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(tmp / "local"),
           "SCHOOLDATA_PIPELINES_DIR": str(tmp / "dlt"), "DBT_TARGET_PATH": str(tmp / "target"),
           "DBT_LOG_PATH": str(tmp / "logs")}
    with pytest.MonkeyPatch.context() as mp, AeriesSimulator(district, today=FIRST_NIGHT) as sim:
        mp.delenv("WAREHOUSE_DSN", raising=False)
        for key, value in {**env, "AERIES_BASE_URL": sim.base_url, "AERIES_CERT": sim.cert}.items():
            mp.setenv(key, value)
        run_aeries(RunOptions(start_date=START, end_date=FIRST_NIGHT, rate_limit=0))
        _dbt(["build"], FIRST_NIGHT)
        first = {
            "daily": _query("select student_id, school_code, calendar_date, is_present, is_full_day_absent "
                            "from marts.fct_attendance_daily"),
            "year": _query("select student_id, school_code, days_enrolled, days_present, days_absent, "
                           "days_absent_excused, days_absent_unexcused, days_suspended_out_of_school, "
                           "days_suspended_in_school, days_tardy, is_chronically_absent "
                           "from marts.fct_attendance_student_year"),
            "reconciliation": _query("select student_id, school_code "
                                     "from marts.fct_attendance_reconciliation where has_difference"),
        }
        # A week later: new days, and the corrections made meanwhile.
        sim.advance_day((SECOND_NIGHT - FIRST_NIGHT).days)
        run_aeries(RunOptions(start_date=START, end_date=SECOND_NIGHT, rate_limit=0))
        _dbt(["build"], SECOND_NIGHT)
        conn = warehouse.connect(warehouse.resolve())
        with conn, conn.cursor() as cur:
            for schema, table in INCREMENTAL:
                # a student whose last day code vanished keeps a schedule row with no length
                kept = "max_periods_recorded is not null" if table.endswith("_schedules") else "true"
                cur.execute(f"drop table if exists public.inc_{table}; "
                            f"create table public.inc_{table} as select * from {schema}.{table} where {kept}")
        conn.close()
        corrections = _query(
            "select student_id, school_code, calendar_date, old_all_day_code, new_all_day_code, "
            "is_cleared, is_within_window, detected_at::date from marts.fct_attendance_corrections")
        result = run_dbt(["run", "--full-refresh", "--select", *[t for _, t in INCREMENTAL],
                          "--vars", f"{{as_of_date: '{SECOND_NIGHT}'}}"], capture=True)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        diff = {}
        for schema, table in INCREMENTAL:
            ours, theirs = f"public.inc_{table}", f"{schema}.{table}"
            cols = ", ".join(c for (c,) in _query(
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = %s order by ordinal_position", (schema, table)) if c not in BUILD_COLUMNS)
            diff[table] = _query(f"(select {cols} from {ours} except select {cols} from {theirs}) union all "
                                 f"(select {cols} from {theirs} except select {cols} from {ours})")
        n_rows = _query("select count(*) from marts.fct_attendance_daily")[0][0]
        yield {"district": district, "first": first, "corrections": corrections,
               "diff": diff, "n_rows": n_rows}


def _truth_days(district: District, school_code: int, student_id: int, as_of: date):
    span = district._span(school_code, student_id)  # the simulator's own span (days and codes)
    days = [d for d in span.days if d <= as_of] if span else []
    return span, days


def test_negative_school_student_without_codes_is_present_every_instructional_day(built):
    district = built["district"]
    negative = [s.school_code for s in district.schools if s.attendance_reporting == "Negative"]
    assert negative, "the simulated district has a negative-attendance school"
    rows = {}
    for sid, sc, day, present, _ in built["first"]["daily"]:
        rows.setdefault((sc, sid), {})[day] = present
    checked = 0
    for sc in negative:
        for e in district.enrollments(sc):
            span, days = _truth_days(district, sc, e.student_id, FIRST_NIGHT)
            if not days or any(span.attendance.as_of(d, FIRST_NIGHT) for d in days):
                continue
            got = rows.get((sc, e.student_id), {})
            assert sorted(got) == days, (sc, e.student_id)
            assert all(got.values())
            checked += 1
    assert checked >= 1


def test_student_year_totals_and_chronic_flag_match_the_truth(built):
    district = built["district"]
    ours = {(r[1], r[0]): r[2:] for r in built["first"]["year"]}
    expected = {}
    for school in district.schools:
        sc = school.school_code
        for e in district.enrollments(sc):
            span, days = _truth_days(district, sc, e.student_id, FIRST_NIGHT)
            if not days:
                continue
            absent = excused = unexcused = oss = iss = tardy = 0
            for d in days:
                codes = span.attendance.as_of(d, FIRST_NIGHT)
                if codes is None:
                    continue
                period_codes = [c for _, c in codes.periods] if not codes.all_day else [codes.all_day]
                if any(CODE_BY_LETTER[c].type_code in (5, 8, 9) for c in period_codes):
                    tardy += 1
                al = codes.all_day
                if not al:
                    continue
                info = CODE_BY_LETTER[al]
                if info.is_suspension and not is_absence(al):
                    iss += 1
                elif is_absence(al):
                    absent += 1
                    if info.is_suspension:
                        oss += 1
                    elif info.type_code == 2:
                        excused += 1
                    else:
                        unexcused += 1
            enrolled = len(days)
            chronic = enrolled >= 31 and absent * 10 >= enrolled  # independent of the SQL: integers
            expected[(sc, e.student_id)] = (enrolled, enrolled - absent, absent, excused, unexcused, oss, iss,
                                            tardy, chronic)
    assert ours == expected
    assert any(v[-1] for v in expected.values()) or all(v[0] < 31 for v in expected.values())


def test_reconciliation_finds_exactly_the_drift_aeries_history_carries(built):
    """The simulator's AHS drifts on purpose for about one student in 80 (a day enrolled too
    many, or an unexcused day reported excused); the reconciliation must flag those, no others."""
    district = built["district"]
    differing = set(built["first"]["reconciliation"])
    enrolled = {(sid, sc) for sid, sc, *_ in built["first"]["year"]}
    drift = {(sid, s.school_code) for s in district.schools
             for sid in district.history_discrepancies(s.school_code)}
    assert differing, "the simulator injects at least one drift per school"
    assert differing <= drift
    assert drift & enrolled <= differing


def test_corrections_are_detected_with_their_window(built):
    corrections = built["corrections"]
    district = built["district"]
    assert corrections, "the week brought corrections inside the pipeline's look-back"
    truth = {(c.school_code, c.student_id, c.calendar_date): c for c in district.corrections}
    for sid, sc, day, old, new, cleared, within, detected in corrections:
        fix = truth[(sc, sid, day)]
        assert FIRST_NIGHT < fix.changed_on <= SECOND_NIGHT
        assert old == fix.old_code and new == fix.new_code and cleared == (fix.new_code is None)
        assert detected == SECOND_NIGHT
        assert within == (day + timedelta(days=7) >= SECOND_NIGHT)


def test_incremental_build_equals_full_refresh_after_corrections(built):
    assert built["n_rows"] > 0
    assert built["diff"] == {table: [] for _, table in INCREMENTAL}


def test_the_spine_test_reports_a_missing_and_an_extra_student_day(built):
    """The daily fact's completeness test is not vacuous: a student-day taken out of the fact and
    one no enrollment covers are both reported (and the fact is put back afterwards)."""
    (sid, sc, day), = _query("select student_id, school_code, calendar_date from marts.fct_attendance_daily"
                             " order by calendar_date desc, school_code, student_id limit 1")
    key = "student_id = %s and school_code = %s and calendar_date = %s"
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn, conn.cursor() as cur:
            cur.execute("create table public.spine_probe as select * from marts.fct_attendance_daily"
                        f" where {key}", (sid, sc, day))
            cur.execute(f"delete from marts.fct_attendance_daily where {key}", (sid, sc, day))
            cur.execute("insert into marts.fct_attendance_daily select * from public.spine_probe")
            cur.execute("update marts.fct_attendance_daily set student_id = 999999999"
                        f" where {key}", (sid, sc, day))
        result = run_dbt(["test", "--select", "attendance_daily_matches_the_spine",
                          "--vars", f"{{as_of_date: '{SECOND_NIGHT}'}}"], capture=True)
        assert result.returncode != 0
        assert "Got 2 results" in result.stdout + result.stderr
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("delete from marts.fct_attendance_daily where student_id = 999999999")
            cur.execute("insert into marts.fct_attendance_daily select * from public.spine_probe")
            cur.execute("drop table public.spine_probe")
        conn.close()
