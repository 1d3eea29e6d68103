"""dbt growth and student summary marts, end to end on real data.

The project's own pipelines load a small simulated district (Aeries over HTTP, i-Ready
export files, Bakalari over HTTP) into a fresh database; ``dbt build`` runs for real; the
marts are compared with an independent Python computation over the generated export files
and the simulated district (growth gain, percent progress, placement ordinal, test windows,
unmapped students, academic risk, intervention priority, roster counts).
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from dlt_pipelines.common import warehouse

AS_OF = date(2025, 6, 13)
ORDINAL = {
    "3 or More Grade Levels Below": 1, "2 Grade Levels Below": 2, "1 Grade Level Below": 3,
    "Early On Grade Level": 4, "Mid or Above Grade Level": 5,
}
LEVELS_BELOW = {1: 3, 2: 2, 3: 1, 4: 0, 5: 0}
PRIORITY = {  # (attendance tier, academic risk) -> rank; mirrors docs/growth-metrics.md
    ("satisfactory", "low"): 4, ("satisfactory", "medium"): 3, ("satisfactory", "high"): 2,
    ("at-risk", "low"): 3, ("at-risk", "medium"): 3, ("at-risk", "high"): 2,
    ("moderate", "low"): 2, ("moderate", "medium"): 2, ("moderate", "high"): 1,
    ("severe", "low"): 2, ("severe", "medium"): 1, ("severe", "high"): 1,
}
SELECT = ["+marts.growth", "+marts.students", "+marts.roster"]
# The attendance marts are built (they feed student_summary and school_kpis) but their own
# tests belong to their suite; excluding them keeps this test about the growth marts.
EXCLUDE = [f"path:models/{folder},resource_type:{kind}"
           for folder in ("staging/aeries", "intermediate/attendance", "marts/attendance")
           for kind in ("test", "unit_test")]


def _col(row: dict, *names: str) -> str:
    """A cell under whichever header vintage the file uses."""
    return next(row[n] for n in names if n in row)


BASELINE = ("Baseline Diagnostic (Y/N)", "Baseline Assessment (Y/N)",
            "Diagnostic used to establish Growth Measures (Y/N)")


def _mdy(text: str) -> date:
    month, day, year = (int(p) for p in text.split("/"))
    return date(year, month, day)


def _window(completion: date) -> str:
    """The vendor's default periods (seed iready_test_windows), written independently."""
    start_year = completion.year - (1 if completion.month < 7 else 0)
    if completion <= date(start_year, 11, 15):
        return "BOY"
    if completion <= date(start_year + 1, 3, 1):
        return "MOY"
    return "EOY"


def _risk(levels_below: int | None) -> str:
    if levels_below is None:
        return "unknown"
    return "high" if levels_below >= 2 else "medium" if levels_below >= 1 else "low"


@pytest.fixture(scope="module")
def built(new_database, tmp_path_factory):
    """Load the three sources with their pipelines, run dbt build once for the module."""
    from dlt_pipelines.aeries import cli as aeries_cli
    from dlt_pipelines.bakalari import cli as bakalari_cli
    from dlt_pipelines.dbt_runner import run_dbt
    from dlt_pipelines.iready import cli as iready_cli
    from dlt_pipelines.simulators.aeries_api import AeriesSimulator
    from dlt_pipelines.simulators.bakalari_api import BakalariSimulator
    from dlt_pipelines.simulators.czech_school import CzechSchool
    from dlt_pipelines.simulators.district import District, DistrictConfig
    from dlt_pipelines.simulators.iready_exports import write_district_exports

    root = tmp_path_factory.mktemp("growth")
    env = {
        **new_database(),
        "SCHOOLDATA_LOCAL_DIR": str(root / "local"),
        "SCHOOLDATA_PIPELINES_DIR": str(root / "dlt"),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
    }
    district = District(DistrictConfig(n_schools=2, students_per_school=40))
    school = CzechSchool.build(seed=42)
    # two header vintages side by side: 2023-24 in the legacy layout ("Diagnostic used to
    # establish Growth Measures (Y/N)", "Reading Comprehension: ..."), 2024-25 as the 2026-27
    # "i-Ready Inform" export ("Baseline Assessment (Y/N)", "Assessment Gain", new file names)
    files = []
    for layout, year in (("legacy", "2023-2024"), ("inform", "2024-2025")):
        for path in write_district_exports(district, root / layout, seed=20240815, layout=layout):
            if path.parent.name == year:
                target = root / "iready" / year / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
                files.append(target)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WAREHOUSE_DSN", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        with AeriesSimulator(district, today=AS_OF) as aeries:
            mp.setenv("AERIES_BASE_URL", aeries.base_url)
            mp.setenv("AERIES_CERT", aeries.cert)
            assert aeries_cli.main(["--rate-limit", "0"]) == 0
        assert iready_cli.main(["--source-url", str(root / "iready")]) == 0
        with BakalariSimulator(school) as bakalari:
            mp.setenv("BAKALARI_BASE_URL", bakalari.base_url)
            mp.setenv("BAKALARI_USERNAME", bakalari.username)
            mp.setenv("BAKALARI_PASSWORD", bakalari.password)
            assert bakalari_cli.main(["--requests-per-minute", "0"]) == 0
        result = run_dbt(["build", "--select", *SELECT, "--exclude", *EXCLUDE,
                          "--vars", json.dumps({"as_of_date": str(AS_OF)})], capture=True)
        wh = warehouse.resolve()
        run_results = json.loads((root / "target" / "run_results.json").read_text())
        yield {
            "dbt": result, "wh": wh, "district": district, "school": school, "files": files,
            "run_results": run_results,
        }


def query(built, sql: str, *params) -> list[tuple]:
    with warehouse.cursor(built["wh"]) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.fixture(scope="module")
def exports(built) -> dict[tuple[str, str, str], list[dict]]:
    """The generated export rows, grouped by (student id, subject, academic year)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for path in built["files"]:
        subject = "math" if "math" in Path(path).name else "reading"
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                row["_completion"] = _mdy(row["Completion Date"])
                groups.setdefault((row["Student ID"], subject, row["Academic Year"]), []).append(row)
    return groups


def test_dbt_build_succeeds(built):
    result = built["dbt"]
    problems = [line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL " in line]
    assert result.returncode == 0, "\n".join(problems[:20]) or result.stdout[-3000:]
    statuses = {r["unique_id"]: r["status"] for r in built["run_results"]["results"]}
    assert not [k for k, s in statuses.items() if s in ("error", "fail")]
    unit_tests = [k for k in statuses if k.startswith("unit_test.") and (
        "iready" in k or "academic_risk" in k or "intervention" in k)]
    assert len(unit_tests) >= 8 and all(statuses[k] == "pass" for k in unit_tests)


def test_growth_matches_an_independent_computation(built, exports):
    rows = query(built, """
        select student_id, subject, school_year, baseline_scale_score, most_recent_scale_score,
               diagnostic_gain, annual_typical_growth_measure, percent_progress_typical,
               percent_progress_stretch, is_met_typical, points_to_typical,
               most_recent_placement_ordinal, academic_risk, is_percent_progress_typical_consistent
        from marts.fct_iready_growth""")
    got = {(r[0], r[1], r[2]): r for r in rows}
    assert set(got) == set(exports)
    checked = 0
    for key, diags in exports.items():
        diags = sorted(diags, key=lambda d: d["_completion"])
        flagged = [d for d in diags if _col(d, *BASELINE) == "Y"]
        baseline = flagged[0] if flagged else diags[0]
        recent = diags[-1]
        gain = int(recent["Overall Scale Score"]) - int(baseline["Overall Scale Score"])
        row = got[key]
        assert row[3] == int(baseline["Overall Scale Score"])
        assert row[4] == int(recent["Overall Scale Score"])
        assert row[5] == gain
        ordinal = ORDINAL.get(recent["Overall Relative Placement"])
        assert row[11] == ordinal
        assert row[12] == _risk(LEVELS_BELOW.get(ordinal))
        typical = recent["Annual Typical Growth Measure"]
        if typical:
            typical = int(typical)
            assert row[6] == typical
            expected = (Decimal(100 * gain) / Decimal(typical)).quantize(Decimal("0.1"), ROUND_HALF_UP)
            assert row[7] == expected
            assert row[9] == (gain >= typical)
            assert row[10] == max(typical - gain, 0)
            vendor = recent["Percent Progress to Annual Typical Growth (%)"]
            if vendor:
                assert abs(round(100 * gain / typical) - int(vendor)) <= 1
                assert row[13] is True
            checked += 1
    assert checked > 100


def test_every_diagnostic_has_its_window_and_placement_ordinal(built, exports):
    expected = {}
    for (sid, subject, _), diags in exports.items():
        for d in diags:
            expected[(sid, subject, d["_completion"])] = (_window(d["_completion"]),
                                                          ORDINAL.get(d["Overall Relative Placement"]))
    rows = query(built, "select student_id, subject, completion_date, test_window, placement_ordinal"
                        " from marts.fct_iready_diagnostics")
    assert len(rows) == len(expected)
    assert {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows} == expected
    assert {r[3] for r in rows} == {"BOY", "MOY", "EOY"}


def test_unmapped_students_are_listed_and_warned(built, exports):
    sis_ids = {str(s.student_id) for s in built["district"].students}
    unmapped = {sid for sid, _, _ in exports} - sis_ids
    assert unmapped, "the export writer always adds students unknown to the SIS"
    rows = query(built, "select iready_student_id from marts.iready_unmapped_students")
    assert {r[0] for r in rows} == unmapped
    warn = [r for r in built["run_results"]["results"]
            if r["unique_id"].startswith("test.")
            and "has_no_rows_iready_unmapped_students" in r["unique_id"]]
    assert len(warn) == 1 and warn[0]["status"] == "warn" and warn[0]["failures"] == len(unmapped)


def test_student_summary_risk_and_priority(built, exports):
    sis_ids = {str(s.student_id) for s in built["district"].students}
    worst: dict[str, int] = {}
    for (sid, _, year), diags in exports.items():
        if year != "2024-2025" or sid not in sis_ids:
            continue
        recent = max(diags, key=lambda d: d["_completion"])
        below = LEVELS_BELOW.get(ORDINAL.get(recent["Overall Relative Placement"]), -1)
        worst[sid] = max(worst.get(sid, -1), below)
    rows = query(built, """
        select s.student_id, s.academic_risk, s.attendance_tier, s.intervention_priority_rank,
               a.attendance_tier
        from marts.student_summary as s
        left join marts.fct_attendance_student_year as a
            on s.student_id = a.student_id and s.school_code = a.school_code and s.school_year = a.school_year
        where s.school_year = '2024-2025'""")
    assert len(rows) == len({s.student_id for s in built["district"].students})
    for student_id, risk, tier, rank, attendance_tier in rows:
        expected_risk = _risk(worst[str(student_id)]) if worst.get(str(student_id), -1) >= 0 else "unknown"
        assert risk == expected_risk, student_id
        assert tier == (attendance_tier or "unknown")
        if (tier, risk) in PRIORITY:
            assert rank == PRIORITY[(tier, risk)]
    # personal fields stay out of the summary marts
    columns = {r[0] for r in query(built, "select column_name from information_schema.columns"
                                          " where table_schema = 'marts' and table_name in"
                                          " ('student_summary', 'school_kpis', 'dim_students')")}
    assert not columns & {"first_name", "last_name", "birth_date", "gender", "state_student_id"}
    restricted = query(built, "select count(*) from restricted.restricted_people"
                              " where source_system = 'aeries'")[0][0]
    assert restricted == len({s.student_id for s in built["district"].students})


def test_school_kpis_enrollment_and_iready_share(built):
    rows = query(built, """
        select k.school_code, k.grade_level, k.test_window, k.enrollment, k.average_daily_attendance,
               k.reading_assessed_count, k.reading_pct_on_or_above_grade_level
        from marts.school_kpis as k where k.school_year = '2024-2025'""")
    assert {r[2] for r in rows} == {"BOY", "MOY", "EOY"}
    for *_, enrollment, ada, assessed, share in rows:
        assert enrollment > 0 and 0 <= ada <= 100
        assert assessed <= enrollment
        assert share is None or 0 <= share <= 100
    # i-Ready share recomputed from the diagnostics fact for one school-grade-window
    school, grade, window = rows[0][0], rows[0][1], rows[0][2]
    on, total = query(built, """
        with members as (
            select distinct student_id::text as student_id
            from marts.fct_attendance_daily
            where is_enrolled_day and school_code = %s and school_year = '2024-2025'
              and calendar_date between (select start_date from reference.iready_test_windows
                                         where school_year_start = 2024 and window_code = %s)
                                    and (select end_date from reference.iready_test_windows
                                         where school_year_start = 2024 and window_code = %s)
              and grade_level = %s
        )
        select count(*) filter (where d.is_on_or_above_grade_level), count(*)
        from marts.fct_iready_diagnostics as d
        join members using (student_id)
        where d.is_latest_in_window and d.subject = 'reading' and d.test_window = %s
          and d.school_year = '2024-2025'""", school, window, window, grade, window)[0]
    row = rows[0]
    assert row[5] == total
    if total:
        assert float(row[6]) == pytest.approx(100.0 * on / total, abs=0.01)


def test_roster_dimensions_and_bridge(built):
    school = built["school"]
    people = dict(query(built, "select person_type, count(*) from marts.dim_bakalari_people group by 1"))
    assert people["student"] == len(school.students)
    assert 0 < people["teacher"] <= len(school.teachers)
    assert query(built, "select count(*) from marts.dim_bakalari_classes")[0][0] == len(school.classes)
    current = query(built, "select enrollment_type, count(*) from marts.bridge_bakalari_enrollments"
                           " where is_current group by 1")
    assert dict(current)["class"] == len(school.students)
    in_raw = query(built, "select count(*) from raw_bakalari.enrollments where not is_deleted")[0][0]
    assert sum(n for _, n in current) == in_raw



def test_roster_history_records_a_student_leaving(built):
    """Runs last (it changes the school): a student leaves, the sync soft-deletes them, the
    snapshots close their versions and the bridge keeps the history."""
    from dlt_pipelines.bakalari import cli as bakalari_cli
    from dlt_pipelines.dbt_runner import run_dbt
    from dlt_pipelines.simulators.bakalari_api import BakalariSimulator

    school = built["school"]
    leaver = sorted(school.students)[0]
    memberships = query(built, "select count(*) from marts.bridge_bakalari_enrollments"
                               " where person_id = %s and is_current", f"student:{leaver.strip()}")[0][0]
    assert memberships >= 2  # home class and at least the whole-class group
    school.remove_student(leaver)
    with pytest.MonkeyPatch.context() as mp, BakalariSimulator(school) as bakalari:
        mp.setenv("BAKALARI_BASE_URL", bakalari.base_url)
        mp.setenv("BAKALARI_USERNAME", bakalari.username)
        mp.setenv("BAKALARI_PASSWORD", bakalari.password)
        assert bakalari_cli.main(["--requests-per-minute", "0"]) == 0
    result = run_dbt(["build", "--select", "snap_bakalari_students+", "snap_bakalari_enrollments+",
                      "--exclude", *EXCLUDE, "--vars", json.dumps({"as_of_date": str(AS_OF)})], capture=True)
    assert result.returncode == 0, result.stdout[-3000:]
    versions = query(built, """
        select is_deleted, is_current, valid_to = '9999-12-31'::timestamp
        from marts.bridge_bakalari_enrollments where person_id = %s""", f"student:{leaver.strip()}")
    assert len(versions) == 2 * memberships
    assert not any(current for _, current, _ in versions)
    assert sum(1 for deleted, _, open_ in versions if deleted and open_) == memberships
    assert query(built, "select is_active from marts.dim_bakalari_people where person_id = %s",
                 f"student:{leaver.strip()}") == [(False,)]
    assert query(built, "select count(*) from marts.dim_bakalari_people"
                        " where person_type = 'student' and is_active")[0][0] == len(school.students)
