"""Change detection: compare this run's rows with the warehouse by row hash.

For every entity, each source row is *created* (id never seen), *updated* (hash differs,
or it was marked deleted and came back), or *unchanged*; a stored row that is live but
absent from the source is *deleted* (``is_deleted = true``, ``deleted_at`` set, the row is
kept). Only created, updated and deleted rows are handed to dlt, so a run with no change
in the source writes no rows at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from dlt_pipelines.common import warehouse as wh

from .roster import ENTITIES

STATES = ("created", "updated", "unchanged", "deleted")


def row_hash(row: dict, attributes: tuple[str, ...]) -> str:
    payload = {"id": row["id"], **{name: row.get(name) for name in attributes}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


@dataclass
class Stored:
    row_hash: str
    is_deleted: bool
    first_seen_at: datetime | None
    attributes: dict


@dataclass
class EntityChanges:
    rows: list[dict] = field(default_factory=list)  # rows to write
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))


def read_stored(dataset: str, warehouse: wh.Warehouse | None = None) -> dict[str, dict[str, Stored]]:
    """What the warehouse holds now, per entity and exact id (empty before the first run)."""
    out: dict[str, dict[str, Stored]] = {name: {} for name in ENTITIES}
    with wh.cursor(warehouse) as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = %s", (dataset,))
        present = {r[0] for r in cur.fetchall()}
        for entity, attributes in ENTITIES.items():
            if entity not in present:
                continue
            cur.execute("select column_name from information_schema.columns"
                        " where table_schema = %s and table_name = %s", (dataset, entity))
            columns = {r[0] for r in cur.fetchall()}
            attrs = [a for a in attributes if a in columns]
            select = ", ".join(f'"{c}"' for c in ["id", "row_hash", "is_deleted", "first_seen_at", *attrs])
            cur.execute(f'select {select} from "{dataset}"."{entity}"')
            for record in cur.fetchall():
                rid, rhash, deleted, first_seen, *values = record
                attributes_now = dict(zip(attrs, values, strict=True))
                out[entity][rid] = Stored(rhash, bool(deleted), first_seen, attributes_now)
    return out


def classify(entity: str, rows: list[dict], stored: dict[str, Stored], now: datetime) -> EntityChanges:
    attributes = ENTITIES[entity]
    result = EntityChanges()
    seen: set[str] = set()
    for row in rows:
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        digest = row_hash(row, attributes)
        previous = stored.get(row["id"])
        if previous is not None and previous.row_hash == digest and not previous.is_deleted:
            result.counts["unchanged"] += 1
            continue
        state = "created" if previous is None else "updated"
        result.counts[state] += 1
        result.rows.append({**row, "row_hash": digest, "is_deleted": False, "deleted_at": None,
                            "first_seen_at": previous.first_seen_at if previous and previous.first_seen_at
                            else now, "updated_at": now, "_loaded_at": now})
    for rid, previous in stored.items():
        if rid in seen or previous.is_deleted:
            continue
        result.counts["deleted"] += 1
        result.rows.append({"id": rid, "id_trimmed": rid.strip(), **previous.attributes,
                            "row_hash": previous.row_hash, "is_deleted": True, "deleted_at": now,
                            "first_seen_at": previous.first_seen_at or now, "updated_at": now,
                            "_loaded_at": now})
    return result
