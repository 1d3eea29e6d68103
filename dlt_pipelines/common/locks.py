"""One run at a time per source and warehouse: a Postgres session advisory lock.

The lock lives in the warehouse, so it holds across checkouts and machines that load the same
warehouse, and Postgres frees it when the holding session ends (a killed run included). Every
source takes it the same way::

    with source_lock(warehouse, "aeries"):
        ...

A second run exits at once with :class:`LockBusyError` (exit status 3) and one sentence. The
holder then closes any audit row of the source still marked ``running``: no other run can hold
the lock, so such a row belongs to a run that was killed or crashed (``sync_fail``, reason
"abandoned").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import warehouse as wh
from .errors import LockBusyError
from .logs import event, get_logger

LOCK_NAMESPACE = "schooldata.run"
ABANDONED = ("abandoned: the run stopped without finishing (killed or crashed); found by a later "
             "run of the same source holding the run lock")

log = get_logger("locks")


def lock_key(source: str) -> str:
    """The text hashed into the advisory lock key (``hashtext``) for a source."""
    return f"{LOCK_NAMESPACE}.{source}"


def is_locked(warehouse: wh.Warehouse | None, source: str) -> bool:
    """Whether some session holds the source's lock right now (used to spot abandoned runs)."""
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_try_advisory_lock(hashtext(%s))", (lock_key(source),))
        free = cur.fetchone()[0]
        if free:
            cur.execute("select pg_advisory_unlock(hashtext(%s))", (lock_key(source),))
    return not free


@contextlib.contextmanager
def source_lock(warehouse: wh.Warehouse | None, source: str, what: str | None = None) -> Iterator[None]:
    """Hold the source's run lock for the block, on a connection of its own."""
    conn = wh.connect(warehouse)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(hashtext(%s))", (lock_key(source),))
            if not cur.fetchone()[0]:
                raise LockBusyError(
                    f"Another {what or source} run is loading this warehouse; this run exits without "
                    "doing anything.",
                    "nothing to do: wait for it to finish (see ops.sync_runs) or let the next scheduled "
                    "run pick the work up.",
                )
            _close_abandoned(cur, source)
        try:
            yield
        finally:
            # unlock explicitly: a closed connection's backend frees the lock only when it exits,
            # which a run started right after this one could still see as busy
            with contextlib.suppress(Exception), conn.cursor() as cur:
                cur.execute("select pg_advisory_unlock(hashtext(%s))", (lock_key(source),))
    finally:
        conn.close()


def _close_abandoned(cur, source: str) -> None:
    """Mark the source's runs left ``running`` as failed (we hold the lock, so none is alive)."""
    cur.execute("select to_regclass('ops.sync_runs')")
    if cur.fetchone()[0] is None:
        return
    cur.execute(
        "update ops.sync_runs set status = 'sync_fail', finished_at = now(), error_summary = %s"
        " where source = %s and status = 'running' returning run_id",
        (ABANDONED, source),
    )
    abandoned = [r[0] for r in cur.fetchall()]
    if abandoned:
        event(log, "sync_abandoned", source=source, runs=len(abandoned), run_ids=",".join(abandoned))
