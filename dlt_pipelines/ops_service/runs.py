"""On-demand syncs: the same command as cron (``python -m dlt_pipelines <source>``) in a child
process, under the same per-source advisory lock (:mod:`dlt_pipelines.common.locks`).

The service decides 409 before starting anything: a child it started is still running, or the
lock is held by another session (cron, an operator's shell). The run id is made up front and
handed to the child (``SCHOOLDATA_RUN_ID``), so the 202 carries the id ``ops.sync_runs`` will use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dlt_pipelines.common import deployment, locks
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.audit import RUN_ID_ENV, new_run_id
from dlt_pipelines.common.logs import event, get_logger

log = get_logger("ops_service")

EXIT_MEANING = {2: "operator error (see the service log)", 3: "another run held the source's lock"}


@dataclass
class Child:
    run_id: str
    source: str
    process: subprocess.Popen
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Busy(Exception):
    pass


class Runner:
    def __init__(self, warehouse: wh.Warehouse | None = None):
        self.warehouse = warehouse
        self._guard = threading.Lock()
        self.children: dict[str, Child] = {}  # run_id -> child

    def running(self, source: str) -> Child | None:
        for child in self.children.values():
            if child.source == source and child.process.poll() is None:
                return child
        return None

    def start(self, source: str) -> Child:
        if source not in deployment.ALL_SOURCES:
            raise KeyError(source)
        with self._guard:
            if self.running(source) or locks.is_locked(self.warehouse, source):
                raise Busy(source)
            run_id = new_run_id(source)
            env = dict(os.environ)
            env[RUN_ID_ENV] = run_id
            if self.warehouse is not None and self.warehouse.origin != "embedded":
                env.update(self.warehouse.libpq_env())
            # the child's output goes to the service's stderr (JSON log lines; secrets masked there)
            process = subprocess.Popen(
                [sys.executable, "-m", "dlt_pipelines", source],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None,
            )
            child = Child(run_id, source, process)
            self.children[run_id] = child
        event(log, "api_sync_started", source=source, run_id=run_id, pid=process.pid)
        threading.Thread(target=self._reap, args=(child,), daemon=True).start()
        return child

    def _reap(self, child: Child) -> None:
        status = child.process.wait()
        event(log, "api_sync_exited", source=child.source, run_id=child.run_id, exit_status=status)

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.terminate()

    def describe(self, run_id: str) -> dict[str, Any] | None:
        """A run the service started that has no ``ops.sync_runs`` row (yet, or ever)."""
        child = self.children.get(run_id)
        if child is None:
            return None
        status = child.process.poll()
        base = {"run_id": run_id, "source": child.source, "started_at": child.started_at.isoformat()}
        if status is None:
            return {**base, "status": "starting"}
        return {
            **base,
            "status": "sync_fail",
            "exit_status": status,
            "error_summary": EXIT_MEANING.get(status, "the run ended before recording itself"),
        }


RUN_COLUMNS = (
    "run_id",
    "source",
    "parameters",
    "started_at",
    "finished_at",
    "status",
    "counts",
    "requests",
    "retries",
    "rejects",
    "duration_seconds",
    "error_summary",
)


def _row(row: tuple) -> dict[str, Any]:
    out = dict(zip(RUN_COLUMNS, row, strict=True))
    for key in ("started_at", "finished_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat()
    if out["duration_seconds"] is not None:
        out["duration_seconds"] = float(out["duration_seconds"])
    return out


def get_run(run_id: str, warehouse: wh.Warehouse | None = None) -> dict[str, Any] | None:
    with wh.cursor(warehouse) as cur:
        cur.execute("select to_regclass('ops.sync_runs')")
        if cur.fetchone()[0] is None:
            return None
        cur.execute(f"select {', '.join(RUN_COLUMNS)} from ops.sync_runs where run_id = %s", (run_id,))
        row = cur.fetchone()
    return _row(row) if row else None


def list_runs(source: str | None, limit: int, warehouse: wh.Warehouse | None = None) -> list[dict[str, Any]]:
    with wh.cursor(warehouse) as cur:
        cur.execute("select to_regclass('ops.sync_runs')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute(
            f"select {', '.join(RUN_COLUMNS)} from ops.sync_runs where (%s::text is null or source = %s)"
            " order by started_at desc limit %s",
            (source, source, limit),
        )
        return [_row(r) for r in cur.fetchall()]
