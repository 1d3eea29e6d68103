"""The Aeries v5 simulator over real HTTP on loopback: shapes, paging, certificates, faults, clock."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import httpx
import pytest

from dlt_pipelines.simulators.aeries_api import DEFAULT_CERT, AeriesSimulator
from dlt_pipelines.simulators.district import District, DistrictConfig
from dlt_pipelines.simulators.faults import FaultSettings

pytestmark = pytest.mark.integration
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00$")
END_OF_YEAR = date(2025, 6, 13)


@pytest.fixture(scope="module")
def district() -> District:
    return District(DistrictConfig(seed=99, n_schools=2, students_per_school=40))


@pytest.fixture
def sim(district):
    with AeriesSimulator(district, today=END_OF_YEAR) as server:
        yield server


def client(sim, **headers) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url + "/api/v5", headers=headers or {"AERIES-CERT": sim.cert},
                        timeout=5)


def get(sim, path: str, **params):
    response = client(sim).get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_school(district, reporting: str) -> int:
    return next(s.school_code for s in district.schools if s.attendance_reporting == reporting)


def test_base_url_is_the_tenant_root_and_systeminfo_needs_no_cert(sim):
    assert sim.base_url.endswith("/aeries")
    info = httpx.get(sim.base_url + "/api/v5/systeminfo").json()
    assert info["AeriesVersion"] and info["DatabaseYear"] == "2024-2025"
    assert info["AvailableDatabaseYears"] == ["2024-2025"]


def test_school_shapes(sim, district):
    schools = get(sim, "schools")
    assert [s["SchoolCode"] for s in schools] == [s.school_code for s in district.schools]
    one = get(sim, "schools/101")
    assert isinstance(one, list) and len(one) == 1 and one[0] == schools[0]
    school = one[0]
    assert school["AttendanceType"] == "Period" and school["AttendanceReporting"] in ("Negative", "Positive")
    assert (school["LowGradeLevel"], school["HighGradeLevel"]) == (6, 8)
    # Extras (Terms on a school) that a client must tolerate.
    assert school["InactiveStatusCode"] == "" and isinstance(school["Terms"], list)
    terms = get(sim, "schools/101/terms")
    assert terms == school["Terms"] and {t["TermCode"] for t in terms} >= {"F", "S", "Y"}
    assert all(DATE.match(t["StartDate"]) and DATE.match(t["EndDate"]) for t in terms)
    assert all(t["FirstHalfEndDate"] is None for t in terms)


def test_route_matching_is_case_insensitive_and_unknown_school_is_404(sim):
    assert get(sim, "SCHOOLS/101/absencecodes") == get(sim, "Schools/101/AbsenceCodes")
    response = client(sim).get("schools/999/students")
    assert response.status_code == 404 and response.json()["Message"]


def test_calendar_shape_has_weekdays_only_with_holiday_codes(sim, district):
    days = get(sim, "schools/101/calendar")
    assert set(days[0]) >= {"SchoolCode", "CalendarDayNumber", "CalendarDate", "HolidayCode",
                            "AttendanceMonth", "AttendanceMonthLocked", "TrackHolidays"}
    dates = [date.fromisoformat(d["CalendarDate"][:10]) for d in days]
    assert all(d.weekday() < 5 for d in dates) and dates[0] == date(2024, 8, 15)
    codes = {d["HolidayCode"] for d in days}
    assert codes == {"", "#", "@", "%", "$"}
    instructional = [d for d, row in zip(dates, days, strict=True) if row["HolidayCode"] in ("", "%")]
    assert instructional == district.instructional_days


def test_absence_codes_shape_and_present_code_only_at_positive_schools(sim, district):
    negative = get(sim, f"schools/{by_school(district, 'Negative')}/AbsenceCodes")
    positive = get(sim, f"schools/{by_school(district, 'Positive')}/AbsenceCodes")
    assert "P" not in {c["AbsenceCode"] for c in negative}
    present = next(c for c in positive if c["AbsenceCode"] == "P")
    assert present["TypeCode"] == 6 and present["TypeDescription"] == "Present"
    by_code = {c["AbsenceCode"]: c for c in negative}
    assert by_code["S"]["IsSuspension"] and not by_code["S"]["CountsForADA"]
    assert by_code["N"]["IsSuspension"] and by_code["N"]["CountsForADA"] and by_code["N"]["TypeCode"] == 4
    assert by_code["A"]["TypeCode"] == 1 and by_code["U"]["TypeCode"] == 3 and by_code["I"]["TypeCode"] == 2
    assert by_code["X"]["TypeCode"] == 8 and by_code["K"]["IndependentStudyCode"] == "C"
    assert all(len(c["AbsenceCode"]) == 1 and len(c["Abbreviation"]) <= 3 and len(c["Title"]) <= 10
               for c in positive)
    assert get(sim, "schools/101/AbsenceCodes/I") == [by_code["I"]]


def test_students_paging_is_one_based_inclusive_without_envelope(sim):
    everyone = get(sim, "schools/101/students")
    assert isinstance(everyone, list) and len(everyone) >= 40
    pages, start = [], 1
    while True:
        page = get(sim, "schools/101/students", StartingRecord=start, EndingRecord=start + 6)
        pages.extend(page)
        if len(page) < 7:
            break
        start += 7
    assert pages == everyone
    assert get(sim, "schools/101/students", StartingRecord=1, EndingRecord=1) == everyone[:1]
    beyond = len(everyone) + 1
    assert get(sim, "schools/101/students", StartingRecord=beyond, EndingRecord=beyond + 50) == []
    student = everyone[0]
    assert isinstance(student["StudentID"], int) and len(str(student["StudentID"])) == 8
    assert {"UserCode1", "EarlyWarningPoints", "StateStudentID", "InactiveStatusCode"} <= set(student)
    assert DATE.match(student["Birthdate"]) and DATE.match(student["SchoolEnterDate"])
    assert get(sim, f"schools/101/students/{student['StudentID']}") == [student]
    assert get(sim, "schools/102/students/10100001") == []  # no record at that school: empty, not 404


def test_students_and_enrollment_reflect_withdrawals_and_transfers(sim, district):
    students = get(sim, "schools/101/students") + get(sim, "schools/102/students")
    inactive = [s for s in students if s["InactiveStatusCode"] == "I"]
    assert inactive and all(s["SchoolLeaveDate"] for s in inactive)
    rows = get(sim, "schools/101/enrollment/0") + get(sim, "schools/102/enrollment/0")
    assert {"StudentID", "SchoolCode", "AcademicYear", "Grade", "EnterDate", "LeaveDate",
            "ExitReasonCode"} <= set(rows[0])
    assert all(r["AcademicYear"] == "2024" for r in rows)
    left = [r for r in rows if r["LeaveDate"]]
    assert left and all(r["ExitReasonCode"] for r in left)
    moved = [r for r in left if r["NextSchoolCode"]]
    assert moved, "expected an intra-district transfer"
    for r in moved:
        assert any(x["StudentID"] == r["StudentID"] and x["SchoolCode"] == r["NextSchoolCode"] for x in rows)
    one = rows[0]["StudentID"]
    assert get(sim, f"schools/101/enrollment/{one}") == [r for r in rows if r["StudentID"] == one]
    assert get(sim, "schools/101/enrollment/0/year/2019") == []


def test_attendance_shape_matches_the_documentation_and_the_truth(sim, district):
    negative = by_school(district, "Negative")
    body = get(sim, f"schools/{negative}/attendance", StartDate="20240901", EndDate="20241031")
    assert body and all(set(s) == {"StudentID", "AttendanceDays"} for s in body)
    for student in body:
        assert student["AttendanceDays"], "students with no codes are left out"
        for day in student["AttendanceDays"]:
            assert set(day) == {"CalendarDate", "AllDayAttendanceCode", "Classes"}
            assert DATE.match(day["CalendarDate"])
            assert "2024-09-01" <= day["CalendarDate"][:10] <= "2024-10-31"
            assert day["AllDayAttendanceCode"] or day["Classes"]
            for cls in day["Classes"]:
                assert set(cls) == {"SectionNumber", "Period", "AttendanceCode"}
                assert isinstance(cls["SectionNumber"], int) and isinstance(cls["Period"], str)
                assert cls["AttendanceCode"] and cls["AttendanceCode"] != "P"
    expected = sim.expected_attendance(negative, date(2024, 9, 1), date(2024, 10, 31))
    served = [(s["StudentID"], d["CalendarDate"][:10], d["AllDayAttendanceCode"],
               tuple((c["Period"], c["SectionNumber"], c["AttendanceCode"]) for c in d["Classes"]))
              for s in body for d in s["AttendanceDays"]]
    assert served == [(r.student_id, r.calendar_date.isoformat(), r.all_day_code, r.classes)
                      for r in expected]
    one = body[0]["StudentID"]
    single = get(sim, f"schools/{negative}/attendance/{one}", StartDate="20240901", EndDate="20241031")
    assert single == [body[0]]


def test_positive_school_serves_every_enrolled_day(sim, district):
    positive = by_school(district, "Positive")
    body = get(sim, f"schools/{positive}/attendance", StartDate="20241007", EndDate="20241011")
    enrolled = [e for e in district.enrollments(positive) if e.enter_date <= date(2024, 10, 7)
                and (e.leave_date is None or e.leave_date >= date(2024, 10, 11))]
    full_week = {s["StudentID"]: s["AttendanceDays"] for s in body}
    for e in enrolled:
        assert len(full_week[e.student_id]) == 4  # Friday Oct 11 is a staff development day
    codes = {c["AttendanceCode"] for days in full_week.values() for d in days for c in d["Classes"]}
    assert "P" in codes


def test_bad_dates_are_400_and_database_year_falls_back_silently(sim):
    response = client(sim).get("schools/101/attendance", params={"StartDate": "2024-09-01"})
    assert response.status_code == 400 and response.json()["Message"]
    assert get(sim, "schools/101/students", DatabaseYear="1999") == get(sim, "schools/101/students")


def test_certificate_by_header_any_case_or_query_and_401_otherwise(sim):
    assert client(sim, **{"aeries-cert": sim.cert}).get("schools").status_code == 200
    assert client(sim, **{"Aeries-Cert": sim.cert}).get("schools").status_code == 200
    assert httpx.get(sim.base_url + "/api/v5/schools", params={"cert": sim.cert}).status_code == 200
    for headers in ({"AERIES-CERT": sim.cert.upper()}, {"X-Other": "1"}):
        response = client(sim, **headers).get("schools")
        assert response.status_code == 401 and response.json()["Message"]
    assert sim.cert == DEFAULT_CERT and len(DEFAULT_CERT) == 32


def test_history_summary_shape_and_year_route(sim, district):
    rows = get(sim, "schools/101/AttendanceHistory/summary")
    assert {r["StudentID"] for r in rows} == {e.student_id for e in district.enrollments(101)}
    summary = rows[0]["HistorySummaries"][0]
    assert summary["SchoolYear"] == "2024-2025" and summary["SchoolCode"] in (101, 102)
    assert {"DaysEnrolled", "DaysPresent", "DaysAbsence", "DaysExcused", "DaysUnexcused", "DaysTardy",
            "DaysSuspension", "DaysInSchoolSuspension", "DaysOfTruancy"} <= set(summary)
    assert get(sim, "schools/101/attendancehistory/summary/year/2024-2025") == rows
    assert get(sim, "schools/101/attendancehistory/summary/year/2023-2024") == []
    sid = rows[0]["StudentID"]
    assert get(sim, f"schools/101/AttendanceHistory/summary/{sid}") == [rows[0]]


@pytest.mark.parametrize("settings, status", [
    (FaultSettings(error_rate=1.0), 503),
    (FaultSettings(rate_limit_rate=1.0, retry_after_seconds=3), 429),
    (FaultSettings(reject_credentials=True), 401),
])
def test_status_faults(sim, settings, status):
    sim.set_faults(settings)
    response = client(sim).get("schools")
    assert response.status_code == status and response.json()["Message"]
    if status == 429:
        assert response.headers["Retry-After"] == "3"
    sim.set_faults(FaultSettings())
    assert client(sim).get("schools").status_code == 200


def test_latency_drop_malformed_and_timeout_faults(sim):
    sim.set_faults(FaultSettings(latency_ms=300))
    started = time.perf_counter()
    assert client(sim).get("schools").status_code == 200
    assert time.perf_counter() - started >= 0.3
    sim.set_faults(FaultSettings(drop_rate=1.0))
    with pytest.raises(httpx.TransportError):
        client(sim).get("schools")
    sim.set_faults(FaultSettings(malformed_rate=1.0))
    response = client(sim).get("schools")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    sim.set_faults(FaultSettings(timeout_rate=1.0, timeout_seconds=1.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.base_url + "/api/v5/schools", headers={"AERIES-CERT": sim.cert}, timeout=0.3)
    sim.set_faults(FaultSettings(error_rate=0.5, seed=3))
    statuses = [client(sim).get("schools").status_code for _ in range(20)]
    assert 200 in statuses and 503 in statuses


def test_advance_day_reveals_new_days_and_applies_corrections(district):
    negative = by_school(district, "Negative")
    fix = next(c for c in district.iter_corrections(negative)
               if c.new_code and (c.changed_on - c.calendar_date).days > 7)
    day = fix.calendar_date
    window = {"StartDate": (day - timedelta(days=3)).strftime("%Y%m%d"),
              "EndDate": fix.changed_on.strftime("%Y%m%d")}

    def code_on(sim, when: date) -> str | None:
        body = get(sim, f"schools/{negative}/attendance/{fix.student_id}", **window)
        days = {d["CalendarDate"][:10]: d["AllDayAttendanceCode"] for s in body for d in s["AttendanceDays"]}
        return days.get(when.isoformat())

    with AeriesSimulator(district, today=day - timedelta(days=1)) as sim:
        assert code_on(sim, day) is None  # not entered yet
        sim.advance_day()
        assert sim.today == day and code_on(sim, day) == fix.old_code
        body = get(sim, f"schools/{negative}/attendance", **window)
        assert max(d["CalendarDate"][:10] for s in body for d in s["AttendanceDays"]) <= day.isoformat()
        sim.advance_day((fix.changed_on - day).days - 1)
        assert code_on(sim, day) == fix.old_code  # the day before the correction
        sim.advance_day()
        assert code_on(sim, day) == fix.new_code
        assert sim.request_count >= 4


def test_prerender_caches_bodies_and_counts_render_time(district):
    positive = by_school(district, "Positive")
    chunks = [(date(2024, 8, 15), date(2024, 9, 30)), (date(2024, 10, 1), date(2024, 12, 20))]
    with AeriesSimulator(district, today=END_OF_YEAR) as sim:
        spent = sim.prerender([positive], chunks)
        assert spent > 0 and sim.render_seconds >= spent * 0.5
        body = client(sim).get(f"schools/{positive}/attendance", params={"StartDate": "20240815",
                                                                         "EndDate": "20240930"})
        days = sum(len(s["AttendanceDays"]) for s in body.json())
        assert days == len(sim.expected_attendance(positive, *chunks[0]))
