"""The embedded database, the shared audit table and dbt's connection, for real."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlt_pipelines.common import audit, embedded_pg, warehouse
from dlt_pipelines.common.errors import OperatorError


def test_embedded_server_lifecycle(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDED_PG_FAST", "1")
    srv = embedded_pg.server(tmp_path / "pg")
    settings = embedded_pg.start(srv)
    try:
        assert embedded_pg.status(srv)["running"] is True
        # Starting again reuses the running server and its port.
        assert embedded_pg.start(srv)["port"] == settings["port"]
        wh = warehouse.Warehouse(origin="embedded", **settings)
        with warehouse.cursor(wh) as cur:
            cur.execute("select current_database()")
            assert cur.fetchone()[0] == embedded_pg.DEFAULT_DATABASE
    finally:
        assert embedded_pg.stop(srv) is True
    assert embedded_pg.status(srv)["running"] is False
    assert embedded_pg.stop(srv) is False


def test_unreachable_server_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "1")
    with pytest.raises(OperatorError, match="Cannot connect to the warehouse"):
        warehouse.connect()


def test_sync_run_writes_audit_row_and_rejects(fresh_db):
    with audit.SyncRun("unit", {"school_code": [101]}) as run:
        run.add_count("students", 3)
        run.requests += 2
        run.reject("students", "StudentID missing", {"row": 1}, line_number=4)
    with pytest.raises(ValueError), audit.SyncRun("unit", {}) as failed:
        raise ValueError("boom")
    with warehouse.cursor() as cur:
        cur.execute("select run_id, status, counts, requests, rejects, error_summary"
                    " from ops.sync_runs order by started_at")
        rows = cur.fetchall()
        cur.execute("select run_id, resource, reason, line_number from ops.load_rejects")
        rejects = cur.fetchall()
    assert rows[0] == (run.run_id, "sync_ok", {"students": 3}, 2, 1, None)
    assert rows[1][0] == failed.run_id and rows[1][1] == "sync_fail"
    assert "ValueError: boom" in rows[1][5]
    assert rejects == [(run.run_id, "students", "StudentID missing", 4)]


def test_dbt_debug_passes_through_the_wrapper(fresh_db):
    result = subprocess.run([sys.executable, "-m", "dlt_pipelines", "dbt", "debug"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "All checks passed" in result.stdout
