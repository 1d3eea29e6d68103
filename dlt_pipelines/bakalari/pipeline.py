"""One Bakaláři roster sync: lock, audit row, read, diff, merge, counts.

``sync()`` is what ``python -m dlt_pipelines bakalari`` and ``make sync-bakalari`` run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from dlt_pipelines.common import at_rest
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.audit import SyncRun
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.http import RetryPolicy
from dlt_pipelines.common.locks import source_lock
from dlt_pipelines.common.logs import event, get_logger

from . import bakalari
from .changes import classify, read_stored
from .client import BakalariClient, ConnectorClient
from .roster import ORDER, read_roster
from .settings import DATASET_NAME, PIPELINE_NAME, SOURCE, BakalariSettings

log = get_logger(SOURCE)


def sync(settings: BakalariSettings, *, dry_run: bool = False, allow_empty: bool = False,
         warehouse: wh.Warehouse | None = None, transport: httpx.BaseTransport | None = None,
         policy: RetryPolicy | None = None, dataset: str = DATASET_NAME,
         emit: Callable[[dict], None] | None = None) -> dict:
    """Run one sync and return its summary (also handed to ``emit``, even when it fails)."""
    with source_lock(warehouse, SOURCE, "Bakaláři sync"):
        run = SyncRun(SOURCE, {"host": settings.host, "dry_run": dry_run,
                               "data_connector": settings.connector}, warehouse)
        try:
            with run:
                _sync(run, settings, dry_run, allow_empty, warehouse, transport, policy, dataset)
        finally:
            if emit and run.started_at:
                emit(run.summary())
        return run.summary()


def _sync(run: SyncRun, settings, dry_run, allow_empty, warehouse, transport, policy, dataset) -> None:
    client = BakalariClient(settings, transport=transport, policy=policy)
    connector = ConnectorClient(settings, transport=transport, policy=policy) if settings.connector else None
    try:
        roster = read_roster(client, connector)
    finally:
        run.requests = client.requests + (connector.http.requests if connector else 0)
        run.retries = client.retries + (connector.http.retries if connector else 0)
        if connector:
            connector.close()
        event(log, "tokens", password_grants=client.tokens.password_grants,
              refresh_grants=client.tokens.refresh_grants, unauthorized=client.auth.unauthorized)
        client.close()
    stored = read_stored(dataset, warehouse)
    now = datetime.now(UTC)
    changes = {}
    for entity in ORDER:
        live = sum(1 for s in stored[entity].values() if not s.is_deleted)
        if not roster.rows[entity] and live and not allow_empty:
            raise OperatorError(
                f"Bakaláři returned no {entity} although {live} are stored; refusing to mark them "
                "all deleted.",
                "check that the sync account still sees the whole school (timetable and marking "
                "rights), or rerun with --allow-empty if the school really has none.",
            )
        changes[entity] = classify(entity, roster.rows[entity], stored[entity], now)
        run.counts[entity] = changes[entity].counts
    if dry_run or not any(c.rows for c in changes.values()):
        return
    pipeline = at_rest.pipeline(PIPELINE_NAME, wh.dlt_destination(warehouse), dataset)
    try:
        pipeline.run(bakalari(changes))
    finally:
        at_rest.purge_loaded(pipeline)
