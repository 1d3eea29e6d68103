"""The quality report's decisions that need no database: which result wins, how thresholds
and severities classify stored failures, and that error text never carries data rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dlt_pipelines import quality
from dlt_pipelines.common.errors import OperatorError


def _test_node(name, severity="ERROR", store=True, **config):
    return {
        "resource_type": "test", "name": name, "schema": "audit", "alias": name,
        "original_file_path": "models/marts/_marts.yml", "column_name": "student_id",
        "attached_node": "model.school_data.student_summary",
        "test_metadata": {"name": "unique", "namespace": None},
        "config": {"severity": severity, "store_failures": store, **config},
        "depends_on": {"nodes": ["model.school_data.student_summary"]},
    }


MANIFEST = {"nodes": {
    "model.school_data.student_summary": {"resource_type": "model", "name": "student_summary"},
    "test.school_data.t_key": _test_node("t_key"),
    "test.school_data.t_signal": _test_node("t_signal", severity="warn"),
    "test.school_data.t_threshold": _test_node("t_threshold", error_if=">10", warn_if=">0"),
    "test.school_data.t_never_ran": _test_node("t_never_ran"),
}}


def test_last_build_wins_and_audit_tables_fill_the_rest():
    run_results = {"args": {"which": "build"}, "results": [
        {"unique_id": "test.school_data.t_key", "status": "error", "failures": None,
         "message": "Database Error in test t_key (models/marts/_marts.yml)\n  value 'Jane Doe' bad"},
    ]}
    audit = {"audit.t_key": 4, "audit.t_signal": 3, "audit.t_threshold": 5}
    tests = {t.name: t for t in quality.collect_tests(MANIFEST, run_results, audit)}
    assert set(tests) == {"t_key", "t_signal", "t_threshold"}  # t_never_ran has no result at all
    assert tests["t_key"].status == "error" and tests["t_key"].origin == "last run"
    assert "Jane Doe" not in tests["t_key"].message and "t_key" in tests["t_key"].message
    assert (tests["t_signal"].status, tests["t_signal"].rows) == ("warn", 3)
    # 5 rows: above warn_if (>0) but not error_if (>10), so a warning despite severity error
    assert tests["t_threshold"].status == "warn"
    assert tests["t_key"].checks == "unique on student_summary.student_id"


def test_results_of_a_command_without_tests_are_ignored():
    run_results = {"args": {"which": "generate"}, "results": [
        {"unique_id": "test.school_data.t_key", "status": "success", "failures": None}]}
    tests = {t.name: t for t in quality.collect_tests(MANIFEST, run_results, {"audit.t_key": 2,
                                                                              "audit.t_threshold": 11})}
    assert (tests["t_key"].status, tests["t_key"].origin, tests["t_key"].rows) == ("fail", "audit table", 2)
    assert tests["t_threshold"].status == "fail"


@pytest.mark.parametrize("expr, rows, hit", [("!= 0", 0, False), ("!= 0", 1, True), (">10", 10, False),
                                             (">= 10", 10, True), ("nonsense", 2, True)])
def test_thresholds(expr, rows, hit):
    assert quality._threshold_hit(expr, rows) is hit


def test_missing_manifest_is_an_operator_error(tmp_path):
    with pytest.raises(OperatorError, match="make transform"):
        quality.main(["--target-path", str(tmp_path)])


def test_report_truncates_reject_reasons_and_lists_failed_models():
    run_results = {"args": {"which": "build"}, "metadata": {"generated_at": "2026-11-22T22:00:00Z"},
                   "results": [{"unique_id": "model.school_data.student_summary", "status": "skipped"},
                               {"unique_id": "model.school_data.dim_students", "status": "error",
                                "message": "Database Error in model dim_students (models/x.sql)\n"
                                           "  Key (student_id)=(4711) already exists"}]}
    started = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
    runs = [("iready", "iready-1", started, "sync_ok", 40)]
    rejects = [("iready", "diagnostic_results", "overall_scale_score", "x" * 500, 40, 1)]
    lines = quality.render(MANIFEST, run_results, [], None, runs, rejects, 3)
    text = "\n".join(lines)
    assert "model     student_summary: skipped" in text
    assert "model     dim_students: Database Error, see dbt_project/logs/dbt.log" in text
    assert "4711" not in text
    assert "40 x diagnostic_results.overall_scale_score: " + "x" * 100 + "  (1 run(s))" in text
    assert "x" * 101 not in text
    assert "not checked yet: run `make freshness`" in text
    assert json.dumps(lines)  # plain strings only
