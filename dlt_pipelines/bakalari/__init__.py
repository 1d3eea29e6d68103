"""dlt source ``bakalari``: a raw copy of a Czech school's roster from Bakaláři API v3.

One merge table per entity in dependency order (classes, groups, subjects, teachers, rooms,
students, enrollments), keyed on the source's exact id. The rows handed to dlt are the
*changes* only (created, updated, marked deleted), computed by :mod:`.changes` against the
warehouse; see :func:`dlt_pipelines.bakalari.pipeline.sync` for the full run (lock, audit,
counts) and docs/bakalari.md for the design.

Used on its own, ``bakalari()`` reads the API with the settings from the environment or
dlt secrets and treats every row as new (a full load into an empty dataset).
"""

from __future__ import annotations

from datetime import UTC, datetime

import dlt

from .changes import EntityChanges, classify
from .roster import ENTITIES, ORDER

BOOKKEEPING = {
    "row_hash": {"data_type": "text"},
    "is_deleted": {"data_type": "bool"},
    "deleted_at": {"data_type": "timestamp", "nullable": True},
    "first_seen_at": {"data_type": "timestamp"},
    "updated_at": {"data_type": "timestamp"},
    "_loaded_at": {"data_type": "timestamp"},
}


def columns_for(entity: str) -> dict[str, dict]:
    cols: dict[str, dict] = {"id": {"data_type": "text", "nullable": False, "primary_key": True},
                             "id_trimmed": {"data_type": "text"}}
    cols.update({name: {"data_type": "text", "nullable": True} for name in ENTITIES[entity]})
    cols.update(BOOKKEEPING)
    return cols


def _resource(entity: str, rows: list[dict]):
    @dlt.resource(name=entity, table_name=entity, write_disposition="merge", primary_key="id",
                  columns=columns_for(entity), max_table_nesting=0)
    def _rows():
        yield from rows

    return _rows


@dlt.source(name="bakalari", max_table_nesting=0)
def bakalari(changes=None):
    """``changes``: entity -> :class:`EntityChanges` from :func:`.changes.classify`; when
    omitted the roster is read now and every row counts as created."""
    if changes is None:
        changes = _full_load()
    return [_resource(entity, changes[entity].rows) for entity in ORDER if entity in changes]


def _full_load() -> dict[str, EntityChanges]:
    from .client import BakalariClient
    from .roster import read_roster
    from .settings import BakalariSettings

    now = datetime.now(UTC)
    with BakalariClient(BakalariSettings.resolve()) as client:
        roster = read_roster(client)
    return {entity: classify(entity, roster.rows[entity], {}, now) for entity in ORDER}


__all__ = ["bakalari", "columns_for"]
