"""One run at a time per source and warehouse, across checkouts; runs left `running` by a killed
run are closed by the next run of the source."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.locks import ABANDONED, is_locked, source_lock

pytestmark = pytest.mark.integration

HOLDER = """
import sys
from dlt_pipelines.common.locks import source_lock
with source_lock(None, sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def _checkout_env(root: Path, name: str) -> dict[str, str]:
    """The environment of a second checkout: its own local folders, the same warehouse."""
    env = dict(os.environ)
    env.update({"SCHOOLDATA_LOCAL_DIR": str(root / name / "local"),
                "SCHOOLDATA_PIPELINES_DIR": str(root / name / "dlt")})
    return env


@pytest.mark.parametrize("source", ["aeries", "bakalari"])
def test_a_run_from_another_checkout_exits_3_while_the_lock_is_held(fresh_db, tmp_path, source):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, source], env=_checkout_env(tmp_path, "a"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert is_locked(None, source)
        env = _checkout_env(tmp_path, "b")
        # settings that would reach nothing: the run must stop at the lock before any request
        env.update({"AERIES_BASE_URL": "http://127.0.0.1:9/admin",
                    "AERIES_CERT": "0123456789abcdef0123456789abcdef",
                    "BAKALARI_BASE_URL": "http://127.0.0.1:9", "BAKALARI_USERNAME": "u",
                    "BAKALARI_PASSWORD": "heslo-v-testu"})
        second = subprocess.run([sys.executable, "-m", "dlt_pipelines", source], env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 3, second.stderr
        assert "run is loading this warehouse" in second.stderr
        assert "heslo-v-testu" not in second.stderr + second.stdout
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while is_locked(None, source) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_locked(None, source), "the lock is freed when its holder ends"


def test_a_killed_runs_audit_row_is_closed_as_abandoned_by_the_next_run(fresh_db, tmp_path):
    from dlt_pipelines.common.audit import SyncRun

    holder = subprocess.Popen([sys.executable, "-c", """
import sys, time
from dlt_pipelines.common.audit import SyncRun
from dlt_pipelines.common.locks import source_lock
with source_lock(None, "bakalari"), SyncRun("bakalari", {}) as run:
    print(run.run_id, flush=True)
    time.sleep(600)
"""], env=_checkout_env(tmp_path, "a"), stdout=subprocess.PIPE, text=True)
    killed_id = holder.stdout.readline().strip()
    with source_lock(None, "aeries"):  # another source's lock changes nothing for bakalari
        pass
    holder.kill()
    holder.wait(timeout=30)
    with wh.cursor() as cur:
        cur.execute("select status from ops.sync_runs where run_id = %s", (killed_id,))
        assert cur.fetchone()[0] == "running", "a killed run cannot close its own row"
    deadline = time.monotonic() + 10
    while is_locked(None, "bakalari") and time.monotonic() < deadline:
        time.sleep(0.1)
    with source_lock(None, "bakalari"), SyncRun("bakalari", {}):
        pass
    with wh.cursor() as cur:
        cur.execute("select status, error_summary, finished_at is not null from ops.sync_runs"
                    " where run_id = %s", (killed_id,))
        assert cur.fetchone() == ("sync_fail", ABANDONED, True)
        cur.execute("select count(*) from ops.sync_runs where status = 'running'")
        assert cur.fetchone()[0] == 0
