"""Aeries SIS (API v5) as a dlt source: schools, students, enrollment, calendar, absence codes,
attendance (days and period marks) and the attendance history summary.

API reference: https://support.aeries.com/support/solutions/articles/14000077926
(routes and quirks summarised in docs/aeries.md). Run it with ``python -m dlt_pipelines aeries``;
:mod:`.pipeline` plans the attendance windows, loads them and replaces each window as a unit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import dlt

from dlt_pipelines.common.http import RetriesExhaustedError

from . import records as rec
from .attendance import parse_body, rows_for
from .client import AeriesClient
from .windows import Window

Reject = Callable[[str, str, dict], None]
Count = Callable[[str, int], None]
WindowFailed = Callable[[Window, str], None]

def _columns(**types: str) -> dict:
    """Column hints, a fresh dict per column (dlt fills them in place)."""
    return {name: {"data_type": data_type} for name, data_type in types.items()}


_KEYS = {"school_code": "bigint", "student_id": "bigint"}
_STUDENT_TYPES = {**_KEYS, "grade": "bigint", "birthdate": "date", "school_enter_date": "date",
                  "school_leave_date": "date", "district_enter_date": "date"}
_ENROLLMENT_TYPES = {**_KEYS, "academic_year": "text", "enter_date": "date", "leave_date": "date",
                     "exit_reason_code": "text"}
_SCHOOL_TYPES = {"school_code": "bigint", "inactive_status_code": "text"}
_CALENDAR_TYPES = {"school_code": "bigint", "calendar_date": "date", "holiday_code": "text"}
_ABSENCE_TYPES = {"school_code": "bigint", "absence_code": "text", "independent_study_code": "text"}
_SUMMARY_TYPES = {**_KEYS, "school_year": "text"}


def _no_reject(resource: str, reason: str, record: dict) -> None:  # pragma: no cover - default only
    pass


def _no_count(name: str, value: int) -> None:  # pragma: no cover - default only
    pass


def _raise_failed(window: Window, reason: str) -> None:  # pragma: no cover - default only
    raise RetriesExhaustedError(f"Attendance for school {window.school_code} {window.start}..{window.end}"
                                f" failed ({reason}).", reason=reason)


@dlt.source(name="aeries", max_table_nesting=0)
def aeries(
    client: AeriesClient,
    school_codes: Sequence[int],
    school_year: int,
    windows: Sequence[Window] = (),
    as_of: date | None = None,
    run_id: str = "",
    schools_payload: list[dict] | None = None,
    reject: Reject = _no_reject,
    count: Count = _no_count,
    prefetch: int = 1,
    window_failed: WindowFailed = _raise_failed,
):
    """The Aeries resources for ``school_codes`` and the school year starting in ``school_year``.

    ``windows`` are the attendance school/date windows to fetch (see :mod:`.windows`); their rows
    land in the ``*_incoming`` tables and :mod:`.window_store` moves them into place. A window
    whose request fails on every attempt lands nothing (so nothing of it is deleted) and is handed
    to ``window_failed``; the other windows go on.
    """
    loaded_at = datetime.now(UTC)
    codes = list(school_codes)
    year_label = f"{school_year}-{school_year + 1}"

    def landed(resource: str, rows: list[dict], types: dict[str, str]):
        count(resource, len(rows))
        return rows

    def convert(resource: str, items: list[dict], fn, types: dict[str, str]):
        rows = []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise rec.BadRecord("record is not an object")
                rows.append(rec.stamp(fn(item), loaded_at))
            except rec.BadRecord as exc:
                reject(resource, exc.reason, item if isinstance(item, dict) else {"value": str(item)[:200]})
        return landed(resource, rows, types)

    def dimension(name: str, primary_key, types: dict[str, str]):
        """A merged dimension table. Rows go through dlt's own normalizer and insert statements (not
        csv: dlt's csv COPY turns '' into NULL, and Aeries' blank codes must stay '')."""
        return dlt.resource(name=name, primary_key=primary_key, write_disposition="merge",
                            columns=_columns(**types))

    @dimension("schools", "school_code", _SCHOOL_TYPES)
    def schools() -> Iterator[object]:
        yield convert("schools", schools_payload if schools_payload is not None else client.schools(),
                      rec.school_row, _SCHOOL_TYPES)

    @dimension("students", ("school_code", "student_id"), _STUDENT_TYPES)
    def students() -> Iterator[object]:
        for code in codes:
            for page in client.students(code):
                yield convert("students", page, lambda r, c=code: rec.student_row(r, c), _STUDENT_TYPES)

    @dimension("enrollment", ("student_id", "school_code", "academic_year", "enter_date"), _ENROLLMENT_TYPES)
    def enrollment() -> Iterator[object]:
        for code in codes:
            yield convert("enrollment", client.enrollment(code, school_year), rec.enrollment_row,
                          _ENROLLMENT_TYPES)

    @dimension("calendar", ("school_code", "calendar_date"), _CALENDAR_TYPES)
    def calendar() -> Iterator[object]:
        for code in codes:
            yield convert("calendar", client.calendar(code), lambda r, c=code: rec.calendar_row(r, c),
                          _CALENDAR_TYPES)

    @dimension("absence_codes", ("school_code", "absence_code"), _ABSENCE_TYPES)
    def absence_codes() -> Iterator[object]:
        for code in codes:
            yield convert("absence_codes", client.absence_codes(code),
                          lambda r, c=code: rec.absence_code_row(r, c), _ABSENCE_TYPES)

    @dimension("attendance_history_summary", ("student_id", "school_code", "school_year"), _SUMMARY_TYPES)
    def attendance_history_summary() -> Iterator[object]:
        for code in codes:
            rows: list[dict] = []
            for item in client.history_summary(code, year_label):
                try:
                    if not isinstance(item, dict):
                        raise rec.BadRecord("record is not an object")
                    rows += [rec.stamp(r, loaded_at) for r in rec.history_summary_rows(item)]
                except rec.BadRecord as exc:
                    reject("attendance_history_summary", exc.reason,
                           item if isinstance(item, dict) else {"value": str(item)[:200]})
            yield landed("attendance_history_summary", rows, _SUMMARY_TYPES)

    @dlt.resource(name="attendance", write_disposition="append", file_format="csv")
    def attendance() -> Iterator[object]:
        """Each window: its day rows, period rows and one record describing it."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aeries-fetch") as pool:
            pending = []
            queue = list(windows)
            while queue or pending:
                while queue and len(pending) < max(1, prefetch):
                    w = queue.pop(0)
                    pending.append((w, pool.submit(client.attendance, w.school_code, w.start, w.end,
                                                   parse_body)))
                window, future = pending.pop(0)
                try:
                    body = future.result()
                except RetriesExhaustedError as exc:
                    window_failed(window, exc.reason)
                    continue
                key = secrets.randbits(62)
                rows = rows_for(body, window.school_code, window.start, window.end, key, reject)
                del body
                yield dlt.mark.with_table_name(rows.days, "attendance_days_incoming")
                yield dlt.mark.with_table_name(rows.periods, "attendance_periods_incoming")
                yield dlt.mark.with_table_name({
                    "window_key": key, "school_code": window.school_code, "start_date": window.start,
                    "end_date": window.end, "as_of": as_of or date.today(), "run_id": run_id,
                    "days": rows.days.num_rows, "periods": rows.periods.num_rows, "final": window.final,
                }, "attendance_windows_incoming")

    return (schools, students, enrollment, calendar, absence_codes, attendance_history_summary, attendance)
