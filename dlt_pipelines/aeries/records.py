"""Turn Aeries JSON records into rows: dates as dates, keys checked, unknown keys kept.

A record that cannot be used raises :class:`BadRecord` with a reason; the source sends it to
``ops.load_rejects`` and carries on. Reasons name the field, never its value (FERPA).
"""

from __future__ import annotations

from datetime import date, datetime

from dlt.common.normalizers.naming.snake_case import NamingConvention

# Fields that Aeries sends as "2024-08-15T00:00:00" (or null) and that land as dates.
DATE_FIELDS = frozenset({
    "Birthdate", "SchoolEnterDate", "SchoolLeaveDate", "DistrictEnterDate", "EnterDate", "LeaveDate",
    "CalendarDate", "StartDate", "EndDate", "FirstHalfEndDate", "SecondHalfStartDate",
})


class BadRecord(ValueError):
    """A record that cannot be landed; ``reason`` says why without quoting student data."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_date(value: object, field: str) -> date | None:
    """``2024-08-15T00:00:00`` (or ``2024-08-15``) to a date; null and "" to None."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise BadRecord(f"{field} is not a date")


def require_int(record: dict, field: str) -> int:
    value = record.get(field)
    if isinstance(value, bool):
        raise BadRecord(f"{field} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if value is None:
        raise BadRecord(f"{field} is missing")
    raise BadRecord(f"{field} is not a whole number")


def require_text(record: dict, field: str) -> str:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadRecord(f"{field} is missing")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise BadRecord(f"{field} is not text")


def with_dates(record: dict) -> dict:
    """A copy with every known date field parsed; other keys pass through untouched."""
    row = dict(record)
    for key in DATE_FIELDS.intersection(record):
        row[key] = parse_date(record[key], key)
    return row


_SNAKE = NamingConvention()
_NAMES: dict[str, str] = {}


def snake(key: str) -> str:
    """dlt's column name for an Aeries key (``StudentID`` -> ``student_id``), cached."""
    name = _NAMES.get(key)
    if name is None:
        name = _NAMES[key] = _SNAKE.normalize_identifier(key)
    return name


def stamp(row: dict, loaded_at: datetime) -> dict:
    """The row with dlt's column names and the pipeline's ``_loaded_at``."""
    out = {snake(key): value for key, value in row.items()}
    out["_loaded_at"] = loaded_at
    return out


# -- one function per resource: raw record -> row (or BadRecord) ----------------------------

def school_row(record: dict) -> dict:
    row = with_dates(record)
    row["SchoolCode"] = require_int(record, "SchoolCode")
    return row


def student_row(record: dict, school_code: int) -> dict:
    row = with_dates(record)
    row["StudentID"] = require_int(record, "StudentID")
    row["SchoolCode"] = require_int(record, "SchoolCode") if record.get("SchoolCode") is not None \
        else school_code
    return row


def enrollment_row(record: dict) -> dict:
    row = with_dates(record)
    row["StudentID"] = require_int(record, "StudentID")
    row["SchoolCode"] = require_int(record, "SchoolCode")
    row["AcademicYear"] = require_text(record, "AcademicYear")
    if row.get("EnterDate") is None:
        raise BadRecord("EnterDate is missing")
    return row


def calendar_row(record: dict, school_code: int) -> dict:
    row = with_dates(record)
    row["SchoolCode"] = require_int(record, "SchoolCode") if record.get("SchoolCode") is not None \
        else school_code
    if row.get("CalendarDate") is None:
        raise BadRecord("CalendarDate is missing")
    return row


def absence_code_row(record: dict, school_code: int) -> dict:
    row = with_dates(record)
    row["SchoolCode"] = require_int(record, "SchoolCode") if record.get("SchoolCode") is not None \
        else school_code
    row["AbsenceCode"] = require_text(record, "AbsenceCode")
    return row


def history_summary_rows(record: dict) -> list[dict]:
    """One row per (student, school, year) from ``{StudentID, HistorySummaries: [...]}``."""
    student_id = require_int(record, "StudentID")
    summaries = record.get("HistorySummaries") or []
    if not isinstance(summaries, list):
        raise BadRecord("HistorySummaries is not a list")
    rows = []
    for item in summaries:
        if not isinstance(item, dict):
            raise BadRecord("HistorySummaries holds a non-object")
        row = with_dates(item)
        row["StudentID"] = student_id
        row["SchoolCode"] = require_int(item, "SchoolCode")
        row["SchoolYear"] = require_text(item, "SchoolYear")
        rows.append(row)
    return rows
