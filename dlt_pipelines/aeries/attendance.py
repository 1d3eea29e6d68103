"""Attendance responses to columnar batches (pyarrow), fast enough for a district's full year.

``[{StudentID, AttendanceDays: [{CalendarDate, AllDayAttendanceCode, Classes: [{SectionNumber,
Period, AttendanceCode}]}]}]`` becomes one row per student-day and one per period mark. Every
row carries the ``_window_key`` of the request it came from, so the load step can replace the
whole school/date window as a unit. Records that cannot be used are handed to ``reject`` with a
reason (never a value) and the rest of the window goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .records import BadRecord, parse_date, require_int

DAYS_SCHEMA = pa.schema([
    ("school_code", pa.int64()), ("student_id", pa.int64()), ("calendar_date", pa.date32()),
    ("all_day_attendance_code", pa.string()), ("_window_key", pa.int64()),
])
PERIODS_SCHEMA = pa.schema([
    ("school_code", pa.int64()), ("student_id", pa.int64()), ("calendar_date", pa.date32()),
    ("period", pa.string()), ("section_number", pa.int64()), ("attendance_code", pa.string()),
    ("_window_key", pa.int64()),
])

Reject = Callable[[str, str, dict], None]  # (resource, reason, record)

# The documented response, for pyarrow's JSON reader; other keys are ignored.
_CLASS = pa.struct([("SectionNumber", pa.int64()), ("Period", pa.string()), ("AttendanceCode", pa.string())])
_DAY = pa.struct([("CalendarDate", pa.string()), ("AllDayAttendanceCode", pa.string()),
                  ("Classes", pa.list_(_CLASS))])
NESTED_SCHEMA = pa.schema([("StudentID", pa.int64()), ("AttendanceDays", pa.list_(_DAY))])
_PARSE = pj.ParseOptions(explicit_schema=NESTED_SCHEMA, unexpected_field_behavior="ignore")
_READ = pj.ReadOptions(use_threads=False, block_size=4 << 20)


@dataclass
class Body:
    """A parsed attendance body: columnar when the fast reader took it, else orjson records."""
    nested: pa.Table | None = None
    records: list | None = None
    raw: bytes = b""


def _read_nested(content: bytes) -> pa.Table | None:
    """The body as a nested Arrow table, or None when it is not in the usual compact layout.

    Aeries sends one compact array of student objects, so the objects are split onto lines
    (newline-delimited JSON) at ``},{"StudentID"``. Anything unexpected (another layout, a type
    that does not match, a truncated body) makes the reader fail and the caller falls back to
    orjson, which is slower but checks record by record.
    """
    first, last = content.find(b"["), content.rfind(b"]")
    if first < 0 or last < first or content[:first].strip() or content[last + 1:].strip():
        return None
    if not content[first + 1:last].strip():
        return NESTED_SCHEMA.empty_table()
    # one copy (the split); the reader gets a zero-copy view between the brackets
    lines = content.replace(b'},{"StudentID"', b'}\n{"StudentID"')
    view = memoryview(lines)[first + 1:len(lines) - (len(content) - last)]
    try:
        return pj.read_json(pa.BufferReader(pa.py_buffer(view)), read_options=_READ, parse_options=_PARSE)
    except (pa.ArrowException, ValueError):
        return None


def parse_body(content: bytes) -> Body:
    """Runs on the fetch thread. Raises ValueError for a body that is not JSON (retried)."""
    nested = _read_nested(content)
    if nested is not None:
        return Body(nested=nested, raw=content)
    records = orjson.loads(content)
    if not isinstance(records, list):
        # an error object or a bare value would otherwise read as "no attendance" and empty the window
        raise ValueError("attendance body is not a JSON array")
    return Body(records=records)


def rows_for(body: Body | list, school_code: int, start: date, end: date, window_key: int,
             reject: Reject) -> WindowRows:
    """Columnar rows for a window: vectorised when every record is clean, else record by record."""
    if isinstance(body, list):
        return window_rows(body, school_code, start, end, window_key, reject)
    if body.nested is not None:
        rows = _rows_from_nested(body.nested, school_code, start, end, window_key)
        if rows is not None:
            return rows
        body = Body(records=orjson.loads(body.raw))
    return window_rows(body.records or [], school_code, start, end, window_key, reject)


def _rows_from_nested(nested: pa.Table, school_code: int, start: date, end: date,
                      window_key: int) -> WindowRows | None:
    """Flatten students -> days -> classes with Arrow kernels; None when any record needs a closer look
    (a null key, a bad or out-of-window date, a repeated student-day or period)."""
    students = nested.column("StudentID").combine_chunks()
    day_lists = nested.column("AttendanceDays").combine_chunks()
    if students.null_count:
        return None
    days = pc.list_flatten(day_lists)
    if days.null_count:
        return None
    day_student = pc.take(students, pc.list_parent_indices(day_lists))
    raw_dates = pc.struct_field(days, "CalendarDate")
    if raw_dates.null_count or (len(raw_dates) and pc.min(pc.utf8_length(raw_dates)).as_py() < 10):
        return None
    try:
        dates = pc.cast(pc.utf8_slice_codeunits(raw_dates, 0, 10), pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if len(dates) and (pc.min(dates).as_py() < start or pc.max(dates).as_py() > end):
        return None
    day_key = pc.add(pc.multiply(day_student, 100_000), pc.cast(pc.cast(dates, pa.int32()), pa.int64()))
    if pc.count_distinct(day_key).as_py() != len(day_key):
        return None
    classes = pc.struct_field(days, "Classes")
    marks = pc.list_flatten(classes)
    if marks.null_count:
        return None
    mark_day = pc.list_parent_indices(classes)
    periods = pc.struct_field(marks, "Period")
    if not _clean_text(periods):
        return None
    pairs = pa.table({"d": mark_day, "p": periods}).group_by(["d", "p"]).aggregate([])
    if pairs.num_rows != len(periods):
        return None
    return WindowRows(
        days=_table(DAYS_SCHEMA, school_code, window_key, [
            day_student, dates, pc.fill_null(pc.struct_field(days, "AllDayAttendanceCode"), "")]),
        periods=_table(PERIODS_SCHEMA, school_code, window_key, [
            pc.take(day_student, mark_day), pc.take(dates, mark_day), periods,
            pc.struct_field(marks, "SectionNumber"),
            pc.fill_null(pc.struct_field(marks, "AttendanceCode"), "")]),
        students=nested.num_rows,
    )


@dataclass
class WindowRows:
    days: pa.Table
    periods: pa.Table
    rejects: int = 0
    students: int = 0


@dataclass
class _Columns:
    """Python lists per column; dates kept as indexes into the window's distinct dates."""
    day_student: list[int] = field(default_factory=list)
    day_date: list[int] = field(default_factory=list)
    day_code: list[str] = field(default_factory=list)
    per_student: list[int] = field(default_factory=list)
    per_date: list[int] = field(default_factory=list)
    per_period: list[str] = field(default_factory=list)
    per_section: list[int | None] = field(default_factory=list)
    per_code: list[str] = field(default_factory=list)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadRecord("code is not text")


def _section(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise BadRecord("SectionNumber is not a whole number")


def _period(value: object) -> str:
    # Aeries sends Period as a string ("1"); tolerate a bare number, reject anything else.
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadRecord("Period is missing" if value in (None, "") else "Period is not text")


def window_rows(payload: list, school_code: int, start: date, end: date, window_key: int,
                reject: Reject) -> WindowRows:
    """Columnar rows for one school/date window. Days outside ``start``..``end`` and repeated
    student-days or student-day-periods are rejected, so a window never touches its neighbours."""
    cols = _Columns()
    date_index: dict[object, int] = {}
    dates: list[date] = []
    seen_days: set[tuple[int, int]] = set()
    rejects = 0
    students = 0

    def date_slot(raw: object) -> int:
        slot = date_index.get(raw)
        if slot is None:
            day = parse_date(raw, "CalendarDate")
            if day is None:
                raise BadRecord("CalendarDate is missing")
            if not start <= day <= end:
                raise BadRecord("CalendarDate is outside the requested window")
            slot = len(dates)
            dates.append(day)
            date_index[raw] = slot
        return slot

    for student in payload:
        if not isinstance(student, dict):
            rejects += 1
            reject("attendance", "student entry is not an object", {"value_type": type(student).__name__})
            continue
        try:
            student_id = require_int(student, "StudentID")
            days = student.get("AttendanceDays") or []
            if not isinstance(days, list):
                raise BadRecord("AttendanceDays is not a list")
        except BadRecord as exc:
            rejects += 1
            reject("attendance", exc.reason, student)
            continue
        students += 1
        for day in days:
            try:
                if not isinstance(day, dict):
                    raise BadRecord("attendance day is not an object")
                slot = date_slot(day.get("CalendarDate"))
                if (student_id, slot) in seen_days:
                    raise BadRecord("student-day repeated in one response")
                code = _text(day.get("AllDayAttendanceCode"))
                classes = day.get("Classes") or []
                if not isinstance(classes, list):
                    raise BadRecord("Classes is not a list")
                marks = []
                periods_seen = set()
                for mark in classes:
                    if not isinstance(mark, dict):
                        raise BadRecord("class entry is not an object")
                    period = _period(mark.get("Period"))
                    if period in periods_seen:
                        raise BadRecord("period repeated in one day")
                    periods_seen.add(period)
                    marks.append((period, _section(mark.get("SectionNumber")),
                                  _text(mark.get("AttendanceCode"))))
            except BadRecord as exc:
                rejects += 1
                reject("attendance_days", exc.reason,
                       {"StudentID": student.get("StudentID"), "day": day if isinstance(day, dict) else None})
                continue
            seen_days.add((student_id, slot))
            cols.day_student.append(student_id)
            cols.day_date.append(slot)
            cols.day_code.append(code)
            for period, section, mark_code in marks:
                cols.per_student.append(student_id)
                cols.per_date.append(slot)
                cols.per_period.append(period)
                cols.per_section.append(section)
                cols.per_code.append(mark_code)
    date_array = pa.array(dates, pa.date32())
    return WindowRows(
        days=_table(DAYS_SCHEMA, school_code, window_key, [
            pa.array(cols.day_student, pa.int64()),
            date_array.take(pa.array(cols.day_date, pa.int32())),
            pa.array(cols.day_code, pa.string()),
        ]),
        periods=_table(PERIODS_SCHEMA, school_code, window_key, [
            pa.array(cols.per_student, pa.int64()),
            date_array.take(pa.array(cols.per_date, pa.int32())),
            pa.array(cols.per_period, pa.string()),
            pa.array(cols.per_section, pa.int64()),
            pa.array(cols.per_code, pa.string()),
        ]),
        rejects=rejects,
        students=students,
    )


def _clean_text(values: pa.Array) -> bool:
    """No nulls, no blanks, no surrounding spaces (what the record-by-record path would fix)."""
    if values.null_count:
        return False
    if not len(values):
        return True
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.min(pc.utf8_length(trimmed)).as_py() > 0 and pc.all(pc.equal(trimmed, values)).as_py()


def _table(schema: pa.Schema, school_code: int, window_key: int, middle: list[pa.Array]) -> pa.Table:
    n = len(middle[0])
    school = pa.repeat(pa.scalar(school_code, pa.int64()), n)
    key = pa.repeat(pa.scalar(window_key, pa.int64()), n)
    return pa.Table.from_arrays([school, *middle, key], schema=schema)
