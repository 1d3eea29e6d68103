"""Attendance change events pushed by Aeries (the webhook of the operations service,
docs/ops-service.md): the payload contract, its validation, and landing valid events in
``raw_aeries.attendance_events`` through dlt.

One delivery is one event::

    {"event_id": "evt-0001", "type": "attendance.changed", "sent_at": "2025-03-03T14:05:00Z",
     "change": {"student_id": 1001, "school_code": 101, "calendar_date": "2025-03-03",
                "period": null, "from_code": "", "to_code": "A",
                "changed_by": "teacher-17", "changed_at": "2025-03-03T14:04:51Z"}}

``period`` null is the all-day code; a period number changes that period's mark. The events are
provisional: ``marts.fct_attendance_live`` overlays them on the daily fact until the next API
window of that school and date replaces them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from dlt_pipelines.common import warehouse as wh

from .settings import DATASET_NAME

EVENTS_TABLE = f"{DATASET_NAME}.attendance_events"
SUPPORTED_TYPES = ("attendance.changed",)
PIPELINE_NAME = "aeries_webhooks"

# Created up front (also by every Aeries run, window_store.ensure_tables) so the live model
# finds the table in a deployment that never received an event; dlt appends to it.
DDL = f"""
create schema if not exists {DATASET_NAME};
create table if not exists {EVENTS_TABLE} (
    event_id text not null,
    student_id bigint not null,
    school_code bigint not null,
    calendar_date date not null,
    period text,
    from_code text not null,
    to_code text not null,
    changed_by text not null,
    changed_at timestamptz not null,
    received_at timestamptz not null,
    _loaded_at timestamptz not null,
    _dlt_load_id text not null,
    _dlt_id text not null
);
create index if not exists attendance_events_day_idx on {EVENTS_TABLE} (school_code, calendar_date);
"""


class EventError(ValueError):
    """A signed event this version cannot take; ``reason`` names the field, never its value."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AttendanceChange:
    event_id: str
    student_id: int
    school_code: int
    calendar_date: date
    period: str | None
    from_code: str
    to_code: str
    changed_by: str
    changed_at: datetime

    def row(self, received_at: datetime) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "student_id": self.student_id,
            "school_code": self.school_code,
            "calendar_date": self.calendar_date,
            "period": self.period,
            "from_code": self.from_code,
            "to_code": self.to_code,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
            "received_at": received_at,
            "_loaded_at": datetime.now(UTC),
        }


def parse_timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise EventError(f"{name} is missing or not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventError(f"{name} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise EventError(f"{name} has no time zone")
    return parsed


def _int(change: dict, name: str, minimum: int) -> int:
    value = change.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EventError(f"change.{name} is missing or not a whole number >= {minimum}")
    return value


def _code(change: dict, name: str) -> str:
    value = change.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value.strip()) > 3:
        raise EventError(f"change.{name} is not an Aeries attendance code (at most 3 characters)")
    return value.strip()


def parse_event(payload: Any) -> AttendanceChange:
    """The event in ``payload`` (decoded JSON), or :class:`EventError` with the reason."""
    if not isinstance(payload, dict):
        raise EventError("the body is not a JSON object")
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 200:
        raise EventError("event_id is missing or not a string of 1-200 characters")
    kind = payload.get("type")
    if kind not in SUPPORTED_TYPES:
        raise EventError(f"unsupported event type (supported: {', '.join(SUPPORTED_TYPES)})")
    change = payload.get("change")
    if not isinstance(change, dict):
        raise EventError("change is missing or not an object")
    try:
        day = date.fromisoformat(str(change.get("calendar_date")))
    except ValueError:
        raise EventError("change.calendar_date is not a date like 2025-03-03") from None
    period = change.get("period")
    if period is not None:
        if isinstance(period, bool) or not isinstance(period, int | str) or not str(period).strip().isdigit():
            raise EventError("change.period is not a period number (or null for the all-day code)")
        period = str(int(str(period).strip()))
    changed_by = change.get("changed_by")
    if not isinstance(changed_by, str) or not changed_by.strip():
        raise EventError("change.changed_by is missing")
    return AttendanceChange(
        event_id=event_id,
        student_id=_int(change, "student_id", 1),
        school_code=_int(change, "school_code", 0),
        calendar_date=day,
        period=period,
        from_code=_code(change, "from_code"),
        to_code=_code(change, "to_code"),
        changed_by=changed_by.strip()[:100],
        changed_at=parse_timestamp(change.get("changed_at"), "change.changed_at"),
    )


def check_known_code(cur, change: AttendanceChange) -> None:
    """A code the school's Aeries code table (``raw_aeries.absence_codes``) lacks is refused: the
    daily fact could not classify it. Once the nightly has loaded the new code, a replay takes it."""
    if not change.to_code:
        return
    cur.execute(f"select to_regclass('{DATASET_NAME}.absence_codes')")
    if cur.fetchone()[0] is None:
        return  # no code table loaded yet: nothing to check against
    cur.execute(
        f"select 1 from {DATASET_NAME}.absence_codes where school_code = %s"
        " and trim(absence_code) = %s limit 1",
        (change.school_code, change.to_code),
    )
    if cur.fetchone() is None:
        raise EventError("change.to_code is not in the school's Aeries absence code table")


def ensure_table(warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('aeries.ddl'))")
        cur.execute(DDL)


_LAND_LOCK = threading.Lock()  # one dlt pipeline working folder: one load at a time per process


def land(
    changes: list[AttendanceChange], received_at: datetime, warehouse: wh.Warehouse | None = None
) -> int:
    """Append the events to ``raw_aeries.attendance_events`` with dlt; returns rows loaded."""
    import dlt

    from dlt_pipelines.common import at_rest

    if not changes:
        return 0
    warehouse = warehouse or wh.resolve()
    rows = [c.row(received_at) for c in changes]
    with _LAND_LOCK:
        ensure_table(warehouse)
        pipe = at_rest.pipeline(PIPELINE_NAME, wh.dlt_destination(warehouse), DATASET_NAME)
        resource = dlt.resource(
            rows,
            name="attendance_events",
            write_disposition="append",
            columns={"period": {"data_type": "text", "nullable": True}},
        )
        try:
            pipe.run(resource)
        finally:
            at_rest.purge_loaded(pipe)
    return len(rows)
