"""Aeries CSV exports (ATT, STU, ENR, ABS, LOC, DAY, AHS) into the same ``raw_aeries`` tables as
the API path, on the shared file path (:mod:`dlt_pipelines.common.filedrop`).

``aeries_files(checked, ...)`` is the dlt source of ONE export file: a dimension file becomes rows
of the API path's merged table (``students``, ``enrollment``, ...); an attendance file lands in
``raw_aeries.attendance_*_incoming`` with one window per school (its dates in the file), which
:func:`dlt_pipelines.aeries.window_store.apply_pending` then swaps in exactly like an API window.
Run it with ``python -m dlt_pipelines aeries-files`` (:mod:`.pipeline`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import dlt

from dlt_pipelines.aeries import (
    _ABSENCE_TYPES,
    _CALENDAR_TYPES,
    _ENROLLMENT_TYPES,
    _SCHOOL_TYPES,
    _STUDENT_TYPES,
    _SUMMARY_TYPES,
    _columns,
)
from dlt_pipelines.common import filedrop

from .rows import DIMENSIONS, AttendanceBatch, AttendanceReader, RowError, attendance_tables, dimension_rows

PIPELINE_NAME = "aeries_files"
DATASET = "raw_aeries"
TYPES = {"STU": _STUDENT_TYPES, "ENR": _ENROLLMENT_TYPES, "ABS": _ABSENCE_TYPES, "LOC": _SCHOOL_TYPES,
         "DAY": _CALENDAR_TYPES, "AHS": _SUMMARY_TYPES}

Reject = Callable[[int, str | None, str, dict], None]


def _cells(columns: list, i: int) -> list[str]:
    return [c[i].as_py() if hasattr(c, "type") else c[i] for c in columns]


@dlt.source(name="aeries_files", max_table_nesting=0)
def aeries_files(checked: Any, reject: Reject, loaded_at: datetime, run_id: str,
                 start: date | None = None, end: date | None = None, chunk_rows: int = 5_000,
                 check_window: Callable[[int, date, date, date], None] | None = None) -> Any:
    """``checked`` is one scanned export (``pipeline.Checked``); counts go to ``checked.outcome``."""
    table = checked.header.table
    scanned = checked.scan
    names = [f.api if f else f"column_{i + 1}" for i, f in enumerate(checked.header.fields)]
    counts = {"loaded": 0, "rejected": 0}

    def on_reject(line: int, column: str | None, reason: str, record: dict) -> None:
        counts["rejected"] += 1
        reject(line, column, reason, record)

    def records() -> Iterator[tuple[list, list[int]]]:
        for columns, lines in filedrop.csv_chunks(scanned, names, chunk_rows, on_reject):
            yield [c.to_pylist() if hasattr(c, "to_pylist") else c for c in columns], lines

    def finish() -> None:
        checked.outcome.update(rows_loaded=counts["loaded"], rows_rejected=counts["rejected"])
        filedrop.assert_accounted(scanned, counts["loaded"], counts["rejected"])

    if table.name == "ATT":
        @dlt.resource(name="attendance", write_disposition="append", file_format="csv")
        def attendance() -> Iterator[Any]:
            reader = AttendanceReader(checked.header, start, end)
            keys: dict[int, int] = {}
            days = periods = 0
            per_school: dict[int, list[int]] = {}
            for columns, lines in records():
                batch = AttendanceBatch()
                for i, line in enumerate(lines):
                    cells = [c[i] for c in columns]
                    try:
                        before = len(batch.per_school)
                        reader.add(batch, cells)
                    except RowError as exc:
                        on_reject(line, exc.column, exc.reason, filedrop.record_of(names, cells))
                        continue
                    school = batch.day_school[-1]
                    if school not in keys:
                        keys[school] = secrets.randbits(62)
                    tally = per_school.setdefault(school, [0, 0])
                    tally[0] += 1
                    tally[1] += len(batch.per_school) - before
                    counts["loaded"] += 1
                if batch.day_school:
                    day_rows, period_rows = attendance_tables(batch, keys)
                    days += day_rows.num_rows
                    periods += period_rows.num_rows
                    yield dlt.mark.with_table_name(day_rows, "attendance_days_incoming")
                    if period_rows.num_rows:
                        yield dlt.mark.with_table_name(period_rows, "attendance_periods_incoming")
            finish()
            as_of = checked.as_of(reader)
            windows = []
            # every school of the file gets the file's whole date range (a negative-attendance school
            # may have no code on the first or last day), or --start-date..--end-date when given
            first = start or min((r[0] for r in reader.ranges.values()), default=None)
            last = end or max((r[1] for r in reader.ranges.values()), default=None)
            for school in sorted(reader.ranges):
                if check_window:
                    check_window(school, first, last, as_of)
                windows.append({
                    "window_key": keys[school], "school_code": school, "start_date": first,
                    "end_date": last, "as_of": as_of, "run_id": run_id, "days": per_school[school][0],
                    "periods": per_school[school][1], "final": False})
            checked.outcome["windows"] = windows
            for window in windows:
                yield dlt.mark.with_table_name(window, "attendance_windows_incoming")

        return attendance

    _, primary_key = DIMENSIONS[table.name]

    @dlt.resource(name=table.resource, primary_key=primary_key, write_disposition="merge",
                  columns=_columns(**TYPES[table.name]))
    def dimension() -> Iterator[Any]:
        seen: set[tuple] = set()
        for columns, lines in records():
            out = []
            for i, line in enumerate(lines):
                cells = [c[i] for c in columns]
                try:
                    rows = dimension_rows(table.name, checked.header, cells, loaded_at)
                    keys = [tuple(r.get(k) for k in primary_key) for r in rows]
                    if any(k in seen for k in keys):
                        raise RowError(None, "duplicate_key: the same "
                                             f"({', '.join(primary_key)}) appears earlier in the file")
                except RowError as exc:
                    on_reject(line, exc.column, exc.reason, filedrop.record_of(names, cells))
                    continue
                seen.update(keys)
                counts["loaded"] += 1
                out.extend(rows)
            if out:
                yield out
        finish()

    return dimension
