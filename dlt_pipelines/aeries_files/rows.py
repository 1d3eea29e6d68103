"""Rows of an Aeries CSV export, checked and typed the way the API path types them.

Cells are text; each column is converted by its field's kind (:mod:`.layouts`): whole numbers
within their range (no ``+``-signed overflow, no ``1e400``), dates in the formats Aeries exports
(``8/15/2024``, ``2024-08-15``, ``2024-08-15T00:00:00``), codes (blank is ``''``, as the API
sends them), booleans (``True``/``False``, ``Y``/``N``, ``1``/``0``). A row with a problem is
rejected whole with the first problem (column and reason, never the value); the others go on.

Dimension rows then go through the API path's own record functions
(:mod:`dlt_pipelines.aeries.records`), so the raw columns are the same; attendance rows become the
same Arrow tables the API path lands (:mod:`dlt_pipelines.aeries.attendance`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dlt_pipelines.aeries import records as rec

from .layouts import BOOL, CODE, DATE, INT, TEXT, TYPE_DESCRIPTIONS, Field, HeaderMatch

MAX_TEXT = 500
MAX_CODE = 8
_INT = re.compile(r"^[+-]?[0-9]{1,15}(?:\.0*)?$")
_TRUE = {"true", "t", "y", "yes", "1", "x"}
_FALSE = {"false", "f", "n", "no", "0", ""}
_DATE_CACHE: dict[str, date | None] = {}


class RowError(Exception):
    def __init__(self, column: str | None, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


def parse_date(text: str) -> date | None:
    """A date as Aeries exports write them; None when it is not one (years 1900-2100)."""
    if text in _DATE_CACHE:
        return _DATE_CACHE[text]
    value: date | None = None
    t = text.strip()
    try:
        if "/" in t:
            m, d, y = t.split(" ", 1)[0].split("/")
            value = date(int(y), int(m), int(d)) if len(y) == 4 else None
        elif len(t) >= 10 and t[4] == "-" and t[7] == "-":
            value = date.fromisoformat(t[:10])
            if len(t) > 10 and t[10] not in "T ":
                value = None
        elif len(t) == 8 and t.isdigit():
            value = date(int(t[:4]), int(t[4:6]), int(t[6:]))
    except ValueError:
        value = None
    if value is not None and not 1900 <= value.year <= 2100:
        value = None
    if len(_DATE_CACHE) < 50_000:
        _DATE_CACHE[text] = value
    return value


def convert(f: Field, raw: str) -> Any:
    """One cell to the field's type, or RowError. Empty cells: None ('' for codes and text)."""
    column = rec.snake(f.api)
    text = raw.strip()
    if "\x00" in raw:
        raise RowError(column, "nul_byte: the value holds a NUL byte")
    if not text:
        if f.required and not f.blank_ok:
            raise RowError(column, f"missing_value: {f.header('labels')} is empty")
        return "" if f.kind in (CODE, TEXT) else None
    if f.kind == INT:
        if not _INT.match(text):
            raise RowError(column, f"not_an_integer: {f.header('labels')} is not a whole number")
        value = int(text.split(".")[0])
        if (f.low is not None and value < f.low) or (f.high is not None and value > f.high):
            raise RowError(column, f"out_of_range: {f.header('labels')} is outside {f.low}..{f.high}")
        return value
    if f.kind == DATE:
        value = parse_date(text)
        if value is None:
            raise RowError(column, f"invalid_date: {f.header('labels')} is not a date"
                                   " (M/D/YYYY or YYYY-MM-DD)")
        return value
    if f.kind == BOOL:
        low = text.casefold()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise RowError(column, f"invalid_flag: {f.header('labels')} is not True/False or Y/N")
    if f.kind == CODE:
        if len(text) > MAX_CODE or not text.isprintable():
            raise RowError(column, f"invalid_code: {f.header('labels')} is not a code (at most {MAX_CODE}"
                                   " printable characters)")
        return text
    if len(raw) > MAX_TEXT or not raw.replace("\n", " ").replace("\r", " ").isprintable():
        raise RowError(column, f"invalid_text: {f.header('labels')} is over {MAX_TEXT} characters or holds"
                               " control characters")
    return raw.strip()


def typed_record(header: HeaderMatch, cells: list[str]) -> dict[str, Any]:
    """The row as ``{api field: typed value}``; RowError on the first bad cell."""
    out: dict[str, Any] = {}
    for f, cell in zip(header.fields, cells, strict=True):
        if f is not None:
            out[f.api] = convert(f, cell)
    return out


# -- dimensions: the API path's record functions ----------------------------------------------

def _iso(record: dict) -> dict:
    return {k: (f"{v.isoformat()}T00:00:00" if isinstance(v, date) else v) for k, v in record.items()}


def _student(r: dict) -> list[dict]:
    return [rec.student_row(_iso(r), r["SchoolCode"])]


def _enrollment(r: dict) -> list[dict]:
    year = r["AcademicYear"]
    m = re.match(r"^(\d{4})(?:-\d{2,4})?$", year)
    if not m:
        raise RowError("academic_year", "invalid_academic_year: Academic Year is not like 2024 or 2024-2025")
    r["AcademicYear"] = m.group(1)
    return [rec.enrollment_row(_iso(r))]


def _absence_code(r: dict) -> list[dict]:
    if not r.get("TypeDescription"):
        r["TypeDescription"] = TYPE_DESCRIPTIONS.get(r["TypeCode"], "")
    for flag in ("CountsForADA", "IsSuspension", "IsTemporarilyNotEnrolled", "IsPartialDayTruant"):
        if r.get(flag) is None and flag in r:
            r[flag] = False
    return [rec.absence_code_row(_iso(r), r["SchoolCode"])]


def _school(r: dict) -> list[dict]:
    return [rec.school_row(_iso(r))]


def _calendar(r: dict) -> list[dict]:
    return [rec.calendar_row(_iso(r), r["SchoolCode"])]


def _history(r: dict) -> list[dict]:
    if not re.match(r"^\d{4}-\d{4}$", r["SchoolYear"]):
        raise RowError("school_year", "invalid_school_year: School Year is not like 2024-2025")
    student = r.pop("StudentID")
    return rec.history_summary_rows({"StudentID": student, "HistorySummaries": [_iso(r)]})


DIMENSIONS: dict[str, tuple[Callable[[dict], list[dict]], tuple[str, ...]]] = {
    "STU": (_student, ("school_code", "student_id")),
    "ENR": (_enrollment, ("student_id", "school_code", "academic_year", "enter_date")),
    "ABS": (_absence_code, ("school_code", "absence_code")),
    "LOC": (_school, ("school_code",)),
    "DAY": (_calendar, ("school_code", "calendar_date")),
    "AHS": (_history, ("student_id", "school_code", "school_year")),
}


def dimension_rows(table: str, header: HeaderMatch, cells: list[str], loaded_at: datetime) -> list[dict]:
    """Raw rows (dlt column names) for one data record of a dimension export."""
    fn, _ = DIMENSIONS[table]
    try:
        return [rec.stamp(row, loaded_at) for row in fn(typed_record(header, cells))]
    except rec.BadRecord as exc:
        raise RowError(None, f"bad_record: {exc.reason}") from None


# -- attendance -----------------------------------------------------------------------------

@dataclass
class AttendanceBatch:
    """Columns of student-days and period marks, with each school's date range seen so far."""
    day_school: list[int] = field(default_factory=list)
    day_student: list[int] = field(default_factory=list)
    day_date: list[date] = field(default_factory=list)
    day_code: list[str] = field(default_factory=list)
    per_school: list[int] = field(default_factory=list)
    per_student: list[int] = field(default_factory=list)
    per_date: list[date] = field(default_factory=list)
    per_period: list[str] = field(default_factory=list)
    per_section: list[int | None] = field(default_factory=list)
    per_code: list[str] = field(default_factory=list)


class AttendanceReader:
    """ATT records to student-day and period-mark rows; repeated student-days are rejected."""

    def __init__(self, header: HeaderMatch, start: date | None, end: date | None):
        self.header = header
        self.start, self.end = start, end
        self.seen: set[tuple[int, int, int]] = set()
        self.ranges: dict[int, list[date]] = {}  # school -> [first, last]
        self.fields = header.fields
        index = {f.api: i for i, f in enumerate(header.fields) if f is not None}
        self.i_school, self.i_student = index["SchoolCode"], index["StudentID"]
        self.i_date, self.i_all_day = index["CalendarDate"], index["AllDayAttendanceCode"]
        self.periods = [(p, index[f"Period{p}"], index.get(f"Section{p}")) for p in
                        (str(n) for n in range(10)) if f"Period{p}" in index]
        self.others = [i for i, f in enumerate(header.fields) if f is not None and i not in
                       {self.i_school, self.i_student, self.i_date, self.i_all_day}
                       and not f.api.startswith(("Period", "Section"))]
        self._f = header.fields

    def add(self, batch: AttendanceBatch, cells: list[str]) -> None:
        f = self._f
        school = convert(f[self.i_school], cells[self.i_school])
        student = convert(f[self.i_student], cells[self.i_student])
        day = convert(f[self.i_date], cells[self.i_date])
        all_day = convert(f[self.i_all_day], cells[self.i_all_day])
        for i in self.others:
            convert(f[i], cells[i])
        marks = []
        for period, i_code, i_section in self.periods:
            code = convert(f[i_code], cells[i_code])
            section = convert(f[i_section], cells[i_section]) if i_section is not None else None
            if code:
                marks.append((period, section, code))
        if (self.start and day < self.start) or (self.end and day > self.end):
            raise RowError("calendar_date",
                           "date_outside_range: the date is outside --start-date..--end-date")
        key = (school, student, day.toordinal())
        if key in self.seen:
            raise RowError(None, "duplicate_student_day: the student-day is repeated in the file")
        self.seen.add(key)
        span = self.ranges.get(school)
        if span is None:
            self.ranges[school] = [day, day]
        elif day < span[0]:
            span[0] = day
        elif day > span[1]:
            span[1] = day
        batch.day_school.append(school)
        batch.day_student.append(student)
        batch.day_date.append(day)
        batch.day_code.append(all_day)
        for period, section, code in marks:
            batch.per_school.append(school)
            batch.per_student.append(student)
            batch.per_date.append(day)
            batch.per_period.append(period)
            batch.per_section.append(section)
            batch.per_code.append(code)


def attendance_tables(batch: AttendanceBatch, keys: dict[int, int]) -> tuple[Any, Any]:
    """The batch as the API path's landing tables (DAYS_SCHEMA, PERIODS_SCHEMA)."""
    import pyarrow as pa

    from dlt_pipelines.aeries.attendance import DAYS_SCHEMA, PERIODS_SCHEMA

    days = pa.Table.from_arrays([
        pa.array(batch.day_school, pa.int64()), pa.array(batch.day_student, pa.int64()),
        pa.array(batch.day_date, pa.date32()), pa.array(batch.day_code, pa.string()),
        pa.array([keys[s] for s in batch.day_school], pa.int64())], schema=DAYS_SCHEMA)
    periods = pa.Table.from_arrays([
        pa.array(batch.per_school, pa.int64()), pa.array(batch.per_student, pa.int64()),
        pa.array(batch.per_date, pa.date32()), pa.array(batch.per_period, pa.string()),
        pa.array(batch.per_section, pa.int64()), pa.array(batch.per_code, pa.string()),
        pa.array([keys[s] for s in batch.per_school], pa.int64())], schema=PERIODS_SCHEMA)
    return days, periods
