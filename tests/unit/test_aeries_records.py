"""Parsing Aeries records: attendance to columnar rows (days and period marks) and the
dimension records, with bad records rejected by reason and the rest kept."""

from __future__ import annotations

from datetime import date

import pytest

from dlt_pipelines.aeries import records as rec
from dlt_pipelines.aeries.attendance import window_rows

START, END = date(2024, 9, 30), date(2024, 10, 2)


def day(calendar_date, code="", classes=(), **extra):
    return {"CalendarDate": calendar_date, "AllDayAttendanceCode": code,
            "Classes": [{"SectionNumber": s, "Period": p, "AttendanceCode": c} for p, s, c in classes],
            **extra}


def parse(payload):
    rejects = []
    rows = window_rows(payload, 101, START, END, 42, lambda *a: rejects.append(a))
    return rows, rejects


def test_days_and_period_marks_land_as_columns():
    payload = [
        {"StudentID": 10100001, "AttendanceDays": [
            day("2024-09-30T00:00:00", "A", [("1", 1101, "A"), ("2", 2101, "A")]),
            day("2024-10-01T00:00:00", "", [("3", 3101, "T")]),
        ]},
        {"StudentID": 10100002, "NewKeyAeriesAdded": True, "AttendanceDays": []},
    ]
    rows, rejects = parse(payload)
    assert rejects == []
    days = rows.days.to_pylist()
    assert days == [
        {"school_code": 101, "student_id": 10100001, "calendar_date": date(2024, 9, 30),
         "all_day_attendance_code": "A", "_window_key": 42},
        {"school_code": 101, "student_id": 10100001, "calendar_date": date(2024, 10, 1),
         "all_day_attendance_code": "", "_window_key": 42},
    ]
    periods = rows.periods.to_pylist()
    marks = [(p["calendar_date"], p["period"], p["section_number"], p["attendance_code"]) for p in periods]
    assert marks == [
        (date(2024, 9, 30), "1", 1101, "A"), (date(2024, 9, 30), "2", 2101, "A"),
        (date(2024, 10, 1), "3", 3101, "T")]
    assert rows.students == 2


def test_quirks_tolerated_numeric_period_null_code_missing_classes_unknown_keys():
    payload = [{"StudentID": 7, "AttendanceDays": [
        {"CalendarDate": "2024-10-02T00:00:00", "AllDayAttendanceCode": None, "Extra": 1,
         "Classes": [{"SectionNumber": None, "Period": 0, "AttendanceCode": "U", "Teacher": "x"}]},
        {"CalendarDate": "2024-10-01T00:00:00", "AllDayAttendanceCode": "I"},
    ]}]
    rows, rejects = parse(payload)
    assert rejects == []
    assert rows.days.column("all_day_attendance_code").to_pylist() == ["", "I"]
    assert rows.periods.to_pylist()[0]["period"] == "0"
    assert rows.periods.to_pylist()[0]["section_number"] is None


def test_bad_records_are_rejected_with_a_reason_and_the_rest_kept():
    payload = [
        {"StudentID": "not-a-number", "AttendanceDays": [day("2024-10-01T00:00:00", "A")]},
        {"StudentID": 8, "AttendanceDays": [
            day("2024-13-45T00:00:00", "A"),                     # not a date
            day("2024-10-05T00:00:00", "A"),                     # outside the window
            day("2024-10-01T00:00:00", "A", [("1", 1, "A")]),
            day("2024-10-01T00:00:00", "E"),                     # same student-day twice
            day("2024-10-02T00:00:00", "", [("1", 1, "T"), ("1", 2, "U")]),  # period twice
            day("2024-09-30T00:00:00", "", [("", 1, "T")]),     # period missing
        ]},
        "not an object",
    ]
    rows, rejects = parse(payload)
    reasons = sorted(r[1] for r in rejects)
    assert reasons == sorted([
        "StudentID is not a whole number", "CalendarDate is not a date",
        "CalendarDate is outside the requested window", "student-day repeated in one response",
        "period repeated in one day", "Period is missing", "student entry is not an object"])
    assert rows.days.num_rows == 1 and rows.periods.num_rows == 1
    assert all("not-a-number" not in r[1] for r in rejects)  # reasons never quote values


def test_dates_and_required_keys_of_dimension_records():
    row = rec.student_row({"StudentID": 5, "SchoolCode": 101, "Birthdate": "2012-03-04T00:00:00",
                           "SchoolLeaveDate": None, "Unknown": [1]}, 101)
    assert row["Birthdate"] == date(2012, 3, 4) and row["SchoolLeaveDate"] is None and row["Unknown"] == [1]
    assert rec.student_row({"StudentID": "6"}, 102)["SchoolCode"] == 102
    with pytest.raises(rec.BadRecord, match="StudentID is missing"):
        rec.student_row({"SchoolCode": 101}, 101)
    with pytest.raises(rec.BadRecord, match="Birthdate is not a date"):
        rec.student_row({"StudentID": 1, "Birthdate": "soon"}, 101)
    with pytest.raises(rec.BadRecord, match="EnterDate is missing"):
        rec.enrollment_row({"StudentID": 1, "SchoolCode": 101, "AcademicYear": "2024", "EnterDate": None})
    assert rec.enrollment_row({"StudentID": 1, "SchoolCode": 101, "AcademicYear": 2024,
                               "EnterDate": "2024-08-15T00:00:00"})["AcademicYear"] == "2024"


def test_history_summary_flattens_one_row_per_school_and_year():
    rows = rec.history_summary_rows({"StudentID": 9, "HistorySummaries": [
        {"SchoolCode": 101, "SchoolYear": "2024-2025", "DaysEnrolled": 10, "DaysPresent": 9},
        {"SchoolCode": 102, "SchoolYear": "2024-2025", "DaysEnrolled": 5, "DaysPresent": 5},
    ]})
    assert [(r["StudentID"], r["SchoolCode"], r["DaysEnrolled"]) for r in rows] == [(9, 101, 10), (9, 102, 5)]
    with pytest.raises(rec.BadRecord, match="SchoolYear is missing"):
        rec.history_summary_rows({"StudentID": 9, "HistorySummaries": [{"SchoolCode": 101}]})


# -- the columnar fast path must agree with the record-by-record path ------------------------

def _both(payload, *, compact=True):
    import orjson

    from dlt_pipelines.aeries.attendance import parse_body, rows_for

    raw = orjson.dumps(payload) if compact else orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    body = parse_body(raw)
    fast_rejects, slow_rejects = [], []
    fast = rows_for(body, 101, START, END, 42, lambda *a: fast_rejects.append(a))
    slow = window_rows(payload, 101, START, END, 42, lambda *a: slow_rejects.append(a))
    assert fast.days.equals(slow.days) and fast.periods.equals(slow.periods)
    assert [r[1] for r in fast_rejects] == [r[1] for r in slow_rejects]
    return body, fast, fast_rejects


CLEAN = [
    {"StudentID": 10100001, "AttendanceDays": [
        day("2024-09-30T00:00:00", "A", [("1", 1101, "A"), ("2", 2101, "A")], Note="x"),
        day("2024-10-02T00:00:00", "", [("3", 3101, "T")]),
    ]},
    {"StudentID": 10100002, "Extra": {"nested": [1]}, "AttendanceDays": [
        {"CalendarDate": "2024-10-01T00:00:00", "AllDayAttendanceCode": None,
         "Classes": [{"SectionNumber": None, "Period": "0", "AttendanceCode": None, "Teacher": 5}]},
        {"CalendarDate": "2024-10-02T00:00:00", "AllDayAttendanceCode": "I"}]},
    {"StudentID": 10100003, "AttendanceDays": []},
]


def test_fast_path_takes_the_usual_compact_body_and_matches_the_slow_path():
    body, rows, rejects = _both(CLEAN)
    assert body.nested is not None  # the columnar reader was used
    assert rejects == [] and rows.days.num_rows == 4 and rows.periods.num_rows == 4
    assert rows.students == 3


def test_other_layouts_and_dirty_records_fall_back_to_the_record_path():
    body, rows, _ = _both(CLEAN, compact=False)  # pretty-printed: not split, parsed by orjson
    assert body.nested is None and rows.days.num_rows == 4
    dirty = [*CLEAN, {"StudentID": 10100004, "AttendanceDays": [
        day("2024-10-01T00:00:00", "A"), day("2024-10-01T00:00:00", "E"),          # repeated day
        day("2024-10-09T00:00:00", "A"),                                          # outside window
        day("2024-10-02T00:00:00", "", [("1", 1, "T"), ("1", 2, "U")])]},          # repeated period
        {"StudentID": 10100005, "AttendanceDays": [day("2024-10-01T00:00:00", "", [(2, 9, "T")])]}]
    body, rows, rejects = _both(dirty)
    assert sorted(r[1] for r in rejects) == sorted([
        "student-day repeated in one response", "CalendarDate is outside the requested window",
        "period repeated in one day"])
    assert rows.periods.column("period").to_pylist()[-1] == "2"  # numeric Period kept as text


def test_a_truncated_body_raises_so_the_client_retries_it():
    import orjson

    from dlt_pipelines.aeries.attendance import parse_body

    raw = orjson.dumps(CLEAN)
    with pytest.raises(ValueError):
        parse_body(raw[: len(raw) // 2])
    assert parse_body(b"[]").nested.num_rows == 0
