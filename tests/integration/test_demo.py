"""`make demo` end to end, at a small scale: simulators, every pipeline, dbt build, docs."""

from __future__ import annotations

import os
import subprocess
import sys

from dlt_pipelines.common import warehouse


def test_demo_runs_every_step_and_reports(fresh_db, tmp_path):
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "dlt_pipelines", "demo", "--schools", "2",
         "--students-per-school", "25"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    for step in ("extract aeries", "extract i-ready", "sync bakalari", "dbt build", "dbt docs generate"):
        assert f"==> {step}" in out
    assert "FAILED" not in out
    assert "docs site" in out and "index.html" in out
    with warehouse.cursor() as cur:
        cur.execute("select source, status from ops.sync_runs order by source")
        runs = cur.fetchall()
        cur.execute("select count(*), count(distinct school_code) from marts.student_summary")
        students, schools = cur.fetchone()
    assert runs == [("aeries", "sync_ok"), ("bakalari", "sync_ok"), ("iready", "sync_ok")]
    assert schools == 2 and students >= 50
