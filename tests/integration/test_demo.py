"""`make demo` end to end, at a small scale: simulators, every pipeline, dbt build, docs; and
afterwards no generated file under the checkout (nor in the working folders) holds a student
name taken from the warehouse (docs/security.md)."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
from pathlib import Path

from dlt_pipelines.common import warehouse

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}  # bytecode of tracked code


def generated_files(root: Path, tracked: set[str]):
    """Files under root that git does not track (what runs generated), without virtualenvs and
    Postgres data folders (the warehouse itself)."""
    for dirpath, dirnames, filenames in os.walk(root):
        if "PG_VERSION" in filenames:  # a Postgres data directory
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames
                       if d not in SKIP_DIRS and not (Path(dirpath) / d / "pyvenv.cfg").exists()]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink() and path.relative_to(root).as_posix() not in tracked:
                yield path


def holding(paths, names: set[str]) -> list[str]:
    found = []
    for path in paths:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        text = data.decode("utf-8", errors="replace")
        found += [f"{path}: {name}" for name in names if name in text]
    return found


def test_demo_runs_every_step_and_reports(fresh_db, tmp_path):
    env = dict(os.environ)
    env["TMPDIR"] = str(tmp_path / "tmp")  # where the demo writes its i-Ready exports (then deletes)
    (tmp_path / "tmp").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "dlt_pipelines", "demo", "--schools", "2",
         "--students-per-school", "25"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    for step in ("extract aeries", "extract i-ready", "sync bakalari", "dbt build", "dbt docs generate",
                 "pii inventory"):
        assert f"==> {step}" in out
    assert "FAILED" not in out
    assert "docs site" in out and "index.html" in out
    assert "make dashboard" in out and "http://localhost:8501" in out
    assert "PII inventory ok" in out and "every warehouse column declared" in out
    with warehouse.cursor() as cur:
        cur.execute("select source, status from ops.sync_runs order by source")
        runs = cur.fetchall()
        cur.execute("select count(*), count(distinct school_code) from marts.student_summary")
        students, schools = cur.fetchone()
        cur.execute("""select first_name || ' ' || last_name from raw_aeries.students
                       union select last_name from raw_aeries.students
                       union select first_name || ' ' || last_name from raw_iready.diagnostic_results
                       union select coalesce(display_name, last_name) from raw_bakalari.students""")
        names = {n for (n,) in cur.fetchall() if n and len(n) >= 5}
    assert runs == [("aeries", "sync_ok"), ("bakalari", "sync_ok"), ("iready", "sync_ok")]
    assert schools == 2 and students >= 50

    # After make demo no generated file holds a student name: the checkout (dbt target and logs,
    # .local without the database) and this test's working folders (SCHOOLDATA_LOCAL_DIR and
    # SCHOOLDATA_PIPELINES_DIR stand in for .local here).
    assert len(names) > 50
    tracked = set(subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    local, pipelines = Path(env["SCHOOLDATA_LOCAL_DIR"]), Path(env["SCHOOLDATA_PIPELINES_DIR"])
    files = [*generated_files(REPO, tracked), *generated_files(local, set()),
             *generated_files(pipelines, set())]
    assert any(p.name == "manifest.json" for p in files)
    assert holding(files, names) == []
    assert list((tmp_path / "tmp").iterdir()) == [], "the demo's i-Ready exports were left behind"
    for folder in (local, pipelines):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
