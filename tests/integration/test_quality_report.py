"""`make quality` end to end: a real dbt build on a tiny project in a fresh database, real
failure tables in `audit`, real rejects in ops.load_rejects, then the report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlt_pipelines import quality
from dlt_pipelines.common import warehouse
from dlt_pipelines.common.audit import SyncRun

pytestmark = pytest.mark.integration

SENTINEL = "Zyzzyva"  # a student's name: it must never reach the terminal

MODEL_YML = """
models:
  - name: stg_pupils
    description: One row per pupil.
    columns:
      - name: pupil_id
        description: Pupil id.
        data_tests: [unique, not_null]
      - name: school_code
        description: School code.
        data_tests:
          - accepted_values:
              arguments:
                values: [101, 102]
              config:
                severity: warn
"""


SOURCES_YML = """
sources:
  - name: raw_test
    config:
      loaded_at_field: _loaded_at
      freshness:
        warn_after: {count: 1, period: hour}
        error_after: {count: 2, period: day}
    tables:
      - name: pupils
"""


def _project(root: Path, repo_root: Path) -> Path:
    project = root / "proj"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: school_data\nversion: '0.1.0'\nconfig-version: 2\nprofile: school_data\n"
        "data_tests:\n  school_data:\n    +store_failures: true\n    +schema: audit\n"
    )
    macro = repo_root / "dbt_project" / "macros" / "generate_schema_name.sql"
    (project / "macros" / "generate_schema_name.sql").write_text(macro.read_text())
    (project / "models" / "stg_pupils.sql").write_text(
        "select pupil_id, first_name, school_code from raw_test.pupils\n"
    )
    (project / "models" / "stg_pupils.yml").write_text(MODEL_YML)
    (project / "models" / "sources.yml").write_text(SOURCES_YML)
    return project


def _dbt(project: Path, repo_root: Path, *args: str) -> int:
    env = {**os.environ, "DBT_PROFILES_DIR": str(repo_root / "profiles"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run([str(dbt), *args, "--target-path", str(project / "target"),
                           "--log-path", str(project / "logs")],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode


def _report(project: Path, capsys, *extra: str) -> tuple[int, str]:
    rc = quality.main(["--target-path", str(project / "target"), *extra])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_quality_report_from_build_audit_and_rejects(fresh_db, repo_root, tmp_path, capsys):
    with warehouse.cursor(fresh_db) as cur:
        cur.execute("create schema raw_test; create table raw_test.pupils (pupil_id bigint,"
                    " first_name text, school_code bigint,"
                    " _loaded_at timestamptz default now() - interval '3 hours')")
        cur.execute("insert into raw_test.pupils values (1, %s, 101), (1, %s, 101), (2, 'Ann', 999),"
                    " (3, 'Bo', 998)", (SENTINEL, SENTINEL))
    for i in range(2):
        with SyncRun("aeries", {"school_code": 101}, warehouse=fresh_db) as run:
            for _ in range(i + 2):
                run.reject("students", "StudentID missing", {"first_name": SENTINEL},
                           column_name="student_id")
    with SyncRun("iready", {}, warehouse=fresh_db) as run:  # reasons that quote the refused value
        run.reject("diagnostic_results", "invalid_date: '13/45/2024' is not a date (M/D/YYYY)",
                   {"x": 1}, column_name="completion_date")
        run.reject("diagnostic_results", f"teacher '{SENTINEL}' is not on the roster", {"x": 2})
    project = _project(tmp_path, repo_root)

    assert _dbt(project, repo_root, "build") == 1  # the unique test fails at error severity
    assert _dbt(project, repo_root, "source", "freshness") == 0  # stale, but only past warn_after
    rc, text = _report(project, capsys)
    assert rc == 1
    assert "last dbt command: `dbt build`" in text
    assert "FAIL  unique_stg_pupils_pupil_id  (1 row)" in text
    assert "checks: unique on stg_pupils.pupil_id   [severity error; from last run]" in text
    assert "look: select * from audit.unique_stg_pupils_pupil_id;" in text
    assert "WARN  accepted_values_stg_pupils_school_code__101__102  (2 rows)" in text
    assert "defined in: dbt_project/models/stg_pupils.yml" in text
    assert "aeries: 5 rejects in the last 2 run(s)" in text
    assert "0 of 1 source tables fresh" in text
    assert re.search(r"WARN +raw_test\.pupils: last load 3\.0 h ago", text), text
    assert "5 x students.student_id: StudentID missing  (2 run(s))" in text
    assert "1 x diagnostic_results.completion_date: invalid_date  (1 run(s))" in text
    assert "1 x diagnostic_results: teacher '?' is not on the roster" in text
    assert SENTINEL not in text and "13/45/2024" not in text
    # reasons only: the rows themselves are encrypted, and the report says how to read them
    assert "needs the rejects key): python -m dlt_pipelines rejects decrypt --run-id" in text
    with warehouse.cursor(fresh_db) as cur:
        cur.execute("select string_agg((to_jsonb(r) - 'reason')::text, ' ') from ops.load_rejects as r")
        assert SENTINEL not in cur.fetchone()[0]

    # `make docs` after the build replaces run_results.json: the audit tables still tell.
    assert _dbt(project, repo_root, "docs", "generate", "--empty-catalog") == 0
    rc, text = _report(project, capsys, "--runs", "1")
    assert rc == 1
    assert "`dbt docs generate`" in text and "come from the audit schema" in text
    assert "FAIL  unique_stg_pupils_pupil_id  (1 row)" in text and "from audit table" in text
    assert "aeries: 3 rejects in the last 1 run(s)" in text

    # keys fixed, warnings remain: exit 0, and 1 only with --strict
    with warehouse.cursor(fresh_db) as cur:
        cur.execute("delete from raw_test.pupils where first_name = %s", (SENTINEL,))
    assert _dbt(project, repo_root, "test") == 0
    rc, text = _report(project, capsys)
    assert rc == 0, text
    assert "ERRORS: tests that must hold (0)" in text and "WARNINGS: quality signals to review (1)" in text
    assert _report(project, capsys, "--strict")[0] == 1
