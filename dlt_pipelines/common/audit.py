"""The audit trail every source shares: one row per run in ``ops.sync_runs`` and the
rows that failed validation in ``ops.load_rejects`` (the reason in clear, never a value; the
row itself AES-256-GCM encrypted with the rejects key, :mod:`.rejects_key`).

Usage::

    with SyncRun("aeries", {"start_date": "2024-08-15"}) as run:
        run.add_count("students", 1200)
        run.requests += 1
        run.reject("students", "StudentID missing", record={...})   # encrypted, see rejects_key

The context manager logs ``sync_start`` and ``sync_ok``/``sync_fail`` and writes the row
at start (status ``running``) and at the end, so a crashed run stays visible.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from psycopg2.extras import Json, execute_values

from . import rejects_key
from . import warehouse as wh
from .logs import event, get_logger, redact

DDL = """
create schema if not exists ops;
create table if not exists ops.sync_runs (
    run_id text primary key,
    source text not null,
    parameters jsonb not null default '{}'::jsonb,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null check (status in ('running', 'sync_ok', 'sync_fail')),
    counts jsonb not null default '{}'::jsonb,
    requests integer not null default 0,
    retries integer not null default 0,
    rejects integer not null default 0,
    duration_seconds numeric(12, 3),
    error_summary text
);
create table if not exists ops.load_rejects (
    reject_id bigserial primary key,
    run_id text not null,
    source text not null,
    resource text not null,
    file_name text,
    line_number integer,
    column_name text,
    reason text not null,
    record_encrypted bytea,
    record_key_id text,
    rejected_at timestamptz not null default now()
);
create index if not exists load_rejects_run_idx on ops.load_rejects (source, run_id);
"""


def ensure_tables(warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('ops.ddl'))")
        cur.execute(DDL)
        _encrypt_legacy_records(cur)


def _encrypt_legacy_records(cur) -> None:
    """Warehouses from before encryption kept payloads in clear jsonb ``record``: encrypt them
    into ``record_encrypted`` and drop the clear column (same transaction). Only then is the
    table altered (altering needs its owner; a loader that merely writes it never gets here)."""
    cur.execute("select 1 from information_schema.columns where table_schema = 'ops'"
                " and table_name = 'load_rejects' and column_name = 'record'")
    if cur.fetchone() is None:
        return
    cur.execute("alter table ops.load_rejects add column if not exists record_encrypted bytea,"
                " add column if not exists record_key_id text")
    cur.execute("select reject_id, run_id, source, resource, record from ops.load_rejects"
                " where record is not null")
    rows = cur.fetchall()
    if rows:
        key = rejects_key.load_key(create=True)

        def sealed(run_id: str, source: str, resource: str, record) -> bytes:
            return rejects_key.encrypt(key, record, rejects_key.associated_data(run_id, source, resource))

        execute_values(
            cur,
            "update ops.load_rejects as r set record_encrypted = v.blob, record_key_id = v.key_id"
            " from (values %s) as v (reject_id, blob, key_id) where r.reject_id = v.reject_id",
            [(reject_id, sealed(run_id, source, resource, record), key.key_id)
             for reject_id, run_id, source, resource, record in rows],
            template="(%s::bigint, %s::bytea, %s::text)",
        )
    cur.execute("alter table ops.load_rejects drop column record")
    event(get_logger("audit"), "load_rejects_encrypted", rows=len(rows))


def new_run_id(source: str) -> str:
    return f"{source}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


RUN_ID_ENV = "SCHOOLDATA_RUN_ID"


def _announced_run_id(source: str) -> str | None:
    """The id in ``SCHOOLDATA_RUN_ID`` when it names a run of this source (taken once)."""
    import os

    value = os.environ.get(RUN_ID_ENV)
    if value and value.startswith(f"{source}-"):
        del os.environ[RUN_ID_ENV]
        return value
    return None


class SyncRun:
    def __init__(self, source: str, parameters: dict[str, Any] | None = None,
                 warehouse: wh.Warehouse | None = None, run_id: str | None = None):
        self.source = source
        self.parameters = parameters or {}
        self.warehouse = warehouse
        # RUN_ID_ENV: the run id the operations service announced when it started this process
        self.run_id = run_id or _announced_run_id(source) or new_run_id(source)
        self.counts: Counter[str] = Counter()
        self.requests = 0
        self.retries = 0
        self.rejects = 0
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.status = "running"
        self.error_summary: str | None = None
        self._pending_rejects: list[tuple] = []
        self._key: rejects_key.RejectsKey | None = None
        self._t0 = 0.0
        self.log = get_logger(source)

    # -- counting -------------------------------------------------------------------
    def add_count(self, name: str, value: int = 1) -> None:
        self.counts[name] += value

    def reject(self, resource: str, reason: str, record: dict | None = None, *,
               file_name: str | None = None, line_number: int | None = None,
               column_name: str | None = None) -> None:
        """Keep a row that failed validation, with the reason; flushed in batches."""
        self.rejects += 1
        blob = key_id = None
        if record is not None:
            if self._key is None:
                self._key = rejects_key.load_key(create=True)
            blob = rejects_key.encrypt(self._key, record,
                                       rejects_key.associated_data(self.run_id, self.source, resource))
            key_id = self._key.key_id
        self._pending_rejects.append(
            (self.run_id, self.source, resource, file_name, line_number, column_name, reason, blob, key_id)
        )
        if len(self._pending_rejects) >= 1000:
            self.flush_rejects()

    def flush_rejects(self) -> None:
        if not self._pending_rejects:
            return
        with wh.cursor(self.warehouse) as cur:
            execute_values(
                cur,
                "insert into ops.load_rejects (run_id, source, resource, file_name, line_number,"
                " column_name, reason, record_encrypted, record_key_id) values %s",
                self._pending_rejects,
            )
        self._pending_rejects.clear()

    @property
    def duration(self) -> float:
        return round(time.monotonic() - self._t0, 3) if self._t0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "status": self.status,
            "started": self.started_at.isoformat() if self.started_at else None,
            "completed": self.finished_at.isoformat() if self.finished_at else None,
            "duration_seconds": self.duration,
            "counts": dict(self.counts),
            "requests": self.requests,
            "retries": self.retries,
            "rejects": self.rejects,
            **({"error": self.error_summary} if self.error_summary else {}),
        }

    # -- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> SyncRun:
        ensure_tables(self.warehouse)
        self._t0 = time.monotonic()
        self.started_at = datetime.now(UTC)
        with wh.cursor(self.warehouse) as cur:
            cur.execute(
                "insert into ops.sync_runs (run_id, source, parameters, started_at, status)"
                " values (%s, %s, %s, %s, 'running')",
                (self.run_id, self.source, Json(self.parameters, dumps=_dumps), self.started_at),
            )
        event(self.log, "sync_start", run_id=self.run_id, source=self.source, **self.parameters)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.finished_at = datetime.now(UTC)
        if exc is None:
            self.status = "sync_ok"
        else:
            self.status = "sync_fail"
            self.error_summary = redact(f"{exc_type.__name__}: {exc}")[:2000]
        try:
            self.flush_rejects()
        finally:
            self._write_final()
        fields = {k: v for k, v in self.summary().items() if k not in ("source", "status")}
        event(self.log, self.status, logging.INFO if exc is None else logging.ERROR,
              source=self.source, **fields)
        return False

    def _write_final(self) -> None:
        with wh.cursor(self.warehouse) as cur:
            cur.execute(
                "update ops.sync_runs set finished_at = %s, status = %s, counts = %s,"
                " requests = %s, retries = %s, rejects = %s, duration_seconds = %s,"
                " error_summary = %s where run_id = %s",
                (self.finished_at, self.status, Json(dict(self.counts)), self.requests,
                 self.retries, self.rejects, self.duration, self.error_summary, self.run_id),
            )


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
