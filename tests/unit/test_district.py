"""The synthetic district: deterministic, calendar-correct, and realistic where it matters."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, timedelta

import pytest

from dlt_pipelines.simulators.aeries_api import render_attendance
from dlt_pipelines.simulators.attendance_gen import CODE_BY_LETTER, is_absence
from dlt_pipelines.simulators.district import EXIT_TRANSFER, District, DistrictConfig

START, END = date(2024, 8, 15), date(2025, 6, 12)


def small(seed: int = 20240815, **overrides) -> District:
    return District(DistrictConfig(seed=seed, n_schools=3, students_per_school=150, **overrides))


@pytest.fixture(scope="module")
def district() -> District:
    return small()


def fingerprint(d: District) -> str:
    digest = hashlib.sha256()
    for s in d.students:
        digest.update(repr((s.student_id, s.student_number, s.state_student_id, s.first_name, s.last_name,
                            s.gender, s.birthdate, s.grade, s.school_code)).encode())
    for school in d.schools:
        digest.update(repr(school).encode())
        digest.update(repr(d.enrollments(school.school_code)).encode())
        digest.update(render_attendance(d.attendance(school.school_code, as_of=END)))
        digest.update(repr(d.history_summary(school.school_code, END)).encode())
    digest.update(repr(d.corrections).encode())
    return digest.hexdigest()


def enrolled_days(d: District, enrollment, as_of: date) -> list[date]:
    last = min(enrollment.leave_date or END, as_of)
    return [x for x in d.instructional_days if enrollment.enter_date <= x <= last]


def test_same_seed_same_district_byte_for_byte_and_other_seed_differs(district):
    assert fingerprint(small()) == fingerprint(district)
    assert fingerprint(small(seed=7)) != fingerprint(district)


def test_calendar_covers_start_to_end_and_skips_weekends_and_holidays(district):
    days = district.calendar(101)
    assert days[0].calendar_date == START and days[-1].calendar_date == END
    n_dates = (END - START).days + 1
    assert [d.calendar_date for d in days] == [START + timedelta(days=i) for i in range(n_dates)]
    by_date = {d.calendar_date: d for d in days}
    assert all(not d.is_instructional for d in days if d.calendar_date.weekday() >= 5)
    holidays = {
        date(2024, 9, 2): "#", date(2024, 11, 11): "#", date(2024, 11, 28): "#", date(2024, 11, 25): "@",
        date(2024, 12, 25): "#", date(2024, 12, 30): "@", date(2025, 1, 20): "#", date(2025, 2, 17): "#",
        date(2025, 3, 31): "@", date(2025, 4, 4): "@", date(2025, 5, 26): "#", date(2024, 10, 11): "$",
    }
    for day, code in holidays.items():
        assert by_date[day].holiday_code == code and not by_date[day].is_instructional, day
    # A winter break of two weeks: nothing instructional from Dec 21 to Jan 5.
    winter = [d for d in days if date(2024, 12, 21) <= d.calendar_date <= date(2025, 1, 5)]
    assert len(winter) == 16 and not any(d.is_instructional for d in winter)
    assert by_date[START].is_instructional
    assert by_date[END].holiday_code == "%" and by_date[END].is_instructional
    weekdays = [d for d in days if not d.is_weekend]
    assert [d.day_number for d in weekdays] == list(range(1, len(weekdays) + 1))
    assert 175 <= len(district.instructional_days) <= 195


def test_enrollment_has_transfers_withdrawals_and_late_entries(district):
    spans = [e for s in district.schools for e in district.enrollments(s.school_code)]
    by_student = Counter(e.student_id for e in spans)
    transferred = [sid for sid, n in by_student.items() if n == 2]
    assert transferred, "no mid-year transfer between district schools"
    for sid in transferred:
        first, second = sorted((e for e in spans if e.student_id == sid), key=lambda e: e.enter_date)
        assert first.school_code != second.school_code
        assert first.exit_reason_code == EXIT_TRANSFER and first.leave_date < second.enter_date
        assert second.leave_date is None and district.student(sid).school_code == second.school_code
    withdrawn = [e for e in spans if e.leave_date and by_student[e.student_id] == 1]
    late = [e for e in spans if e.enter_date > START and by_student[e.student_id] == 1]
    assert withdrawn and all(e.exit_reason_code for e in withdrawn)
    assert late
    assert len(district.students) == 3 * 150
    assert all(len(str(s.student_id)) == 8 and str(s.student_id).startswith(str(s.student_id // 100_000))
               for s in district.students)


def test_chronic_absence_share_is_plausible_with_severe_cases():
    d = District(DistrictConfig(n_schools=2, students_per_school=400))
    rates = []
    for school in d.schools:
        for e in d.enrollments(school.school_code):
            h = d.history_truth(school.school_code, e.student_id, END)
            if h["DaysEnrolled"] >= 31:
                rates.append(h["DaysAbsence"] / h["DaysEnrolled"])
    chronic = sum(r >= 0.10 for r in rates) / len(rates)
    assert 0.08 <= chronic <= 0.20
    assert sum(r >= 0.20 for r in rates) >= 5
    assert sum(r < 0.05 for r in rates) / len(rates) > 0.5  # most students are fine


def test_negative_school_omits_present_days_and_positive_records_every_day(district):
    negative = next(s for s in district.schools if s.attendance_reporting == "Negative")
    positive = next(s for s in district.schools if s.attendance_reporting == "Positive")
    as_of = date(2025, 3, 1)
    for school, complete in ((negative, False), (positive, True)):
        records = list(district.attendance(school.school_code, as_of=as_of))
        per_student = Counter(r.student_id for r in records)
        assert max(r.calendar_date for r in records) <= as_of
        total = 0
        for e in district.enrollments(school.school_code):
            expected = len(enrolled_days(district, e, as_of))
            total += expected
            if complete:
                assert per_student[e.student_id] == expected
            else:
                assert per_student[e.student_id] < expected or expected == 0
        if not complete:
            assert len(records) < 0.3 * total
        if not complete:
            assert all(r.all_day_code or r.classes for r in records)
            assert "P" not in {c for r in records for _, _, c in r.classes}
        else:
            periods = Counter(c for r in records for _, _, c in r.classes)
            assert periods["P"] > 0.8 * sum(periods.values())


def test_all_day_code_is_set_exactly_when_every_period_shares_it(district):
    kinds = Counter()
    for school in district.schools:
        for r in district.attendance(school.school_code, as_of=END):
            codes = {c for _, _, c in r.classes}
            schedule = district.schedule(school.school_code, r.student_id, r.calendar_date)
            if r.all_day_code:
                assert codes == {r.all_day_code} and len(r.classes) == len(schedule)
                kinds[r.all_day_code] += 1
                kinds["absent"] += is_absence(r.all_day_code)
            else:
                assert codes and codes != {"P"}
                kinds["partial" if any(is_absence(c) for c in codes) else "tardy"] += 1
            assert all(isinstance(p, str) and isinstance(s, int) for p, s, _ in r.classes)
    assert kinds["absent"] and kinds["partial"] and kinds["tardy"] and kinds["S"] and kinds["N"]


def test_schedules_have_six_or_seven_periods_in_0_to_9(district):
    sizes = Counter()
    for e in district.enrollments(101):
        fall = district.schedule(101, e.student_id)
        spring = district.schedule(101, e.student_id, date(2025, 3, 3))
        assert [p for p, _ in fall] == [p for p, _ in spring]
        assert all(p in "0123456789" for p, _ in fall)
        sizes[len(fall)] += 1
    assert sizes[6] + sizes[7] > 0.85 * sum(sizes.values())


def test_corrections_in_and_after_the_week_and_cleared_absences(district):
    corrections = district.corrections
    delays = [(c.changed_on - c.calendar_date).days for c in corrections]
    assert any(d <= 7 for d in delays) and any(d > 7 for d in delays)
    assert all(d > 0 for d in delays)
    cleared = [c for c in corrections if c.new_code is None]
    assert cleared and any(c.new_code for c in corrections)


def test_attendance_as_of_applies_corrections_only_once_made(district):
    negative = {s.school_code for s in district.schools if s.attendance_reporting == "Negative"}
    checked = Counter()
    for c in district.corrections:
        before = list(district.attendance(c.school_code, c.calendar_date, c.calendar_date,
                                          as_of=c.changed_on - timedelta(days=1), student_id=c.student_id))
        after = list(district.attendance(c.school_code, c.calendar_date, c.calendar_date,
                                         as_of=c.changed_on, student_id=c.student_id))
        assert [r.all_day_code for r in before] == [c.old_code]
        if c.new_code is not None:
            assert [r.all_day_code for r in after] == [c.new_code]
            checked["changed"] += 1
        elif c.school_code in negative:
            assert after == []
            checked["cleared_negative"] += 1
        else:
            assert [r.all_day_code for r in after] == ["P"]
            checked["cleared_positive"] += 1
    assert checked["changed"] and checked["cleared_negative"]


def test_history_summary_follows_the_truth_except_documented_drift(district):
    as_of = date(2025, 2, 14)
    school = district.schools[0].school_code
    drift = district.history_discrepancies(school)
    assert drift
    rows = {r["StudentID"]: r["HistorySummaries"] for r in district.history_summary(school, as_of)}
    mismatched = set()
    for sid, summaries in rows.items():
        own = next(h for h in summaries if h["SchoolCode"] == school)
        # Recount from the attendance the API serves, by the all-day code.
        records = list(district.attendance(school, as_of=as_of, student_id=sid))
        absent = [r for r in records if is_absence(r.all_day_code)]
        enrollment = next(e for e in district.enrollments(school) if e.student_id == sid)
        truth = {
            "DaysEnrolled": len(enrolled_days(district, enrollment, as_of)),
            "DaysAbsence": len(absent),
            "DaysExcused": sum(CODE_BY_LETTER[r.all_day_code].type_code == 2 and r.all_day_code != "S"
                               for r in absent),
            "DaysSuspension": sum(r.all_day_code == "S" for r in absent),
            "DaysInSchoolSuspension": sum(r.all_day_code == "N" for r in records),
        }
        truth["DaysPresent"] = truth["DaysEnrolled"] - truth["DaysAbsence"]
        reported = {k: own[k] for k in truth}
        if reported != truth:
            mismatched.add(sid)
        assert own["DaysAbsence"] == own["DaysExcused"] + own["DaysUnexcused"] + own["DaysSuspension"]
    assert mismatched and mismatched <= set(drift)
    for sid, kind in drift.items():
        truth = district.history_truth(school, sid, as_of)
        reported = district.history_reported(school, sid, as_of)
        delta = {k: reported[k] - truth[k] for k in truth if reported[k] != truth[k]}
        if kind == "enrolled+1":
            assert delta == {"DaysEnrolled": 1, "DaysPresent": 1} or truth["DaysEnrolled"] == 0
        else:
            assert delta in ({"DaysExcused": 1, "DaysUnexcused": -1},
                             {"DaysExcused": 1, "DaysAbsence": 1, "DaysPresent": -1})


def test_history_of_a_transferred_student_has_a_row_per_school(district):
    spans = Counter(e.student_id for s in district.schools for e in district.enrollments(s.school_code))
    transferred = [sid for sid, n in spans.items() if n == 2]
    assert transferred
    for sid in transferred:
        latest = district.student(sid).school_code
        (row,) = district.history_summary(latest, END, student_id=sid)
        schools = [h["SchoolCode"] for h in row["HistorySummaries"]]
        assert len(schools) == 2 and schools[-1] == latest and sid // 100_000 == schools[0]
        for h in row["HistorySummaries"]:
            assert h["DaysEnrolled"] == district.history_reported(h["SchoolCode"], sid, END)["DaysEnrolled"]
        listed = {r["StudentID"] for r in district.history_summary(latest, END)}
        assert sid in listed


def test_attendance_streams_and_respects_windows(district):
    stream = district.attendance(101, date(2024, 9, 1), date(2024, 9, 30), as_of=END)
    assert iter(stream) is stream
    records = list(stream)
    assert records and all(date(2024, 9, 1) <= r.calendar_date <= date(2024, 9, 30) for r in records)
    assert [r.student_id for r in records] == sorted(r.student_id for r in records)
    assert list(district.attendance(101, date(2024, 9, 1), date(2024, 9, 30), as_of=date(2024, 8, 31))) == []


def test_positive_schools_knob():
    assert {s.attendance_reporting for s in small(positive_schools="all").schools} == {"Positive"}
    chosen = small(positive_schools={103}).schools
    assert [s.attendance_reporting for s in chosen] == ["Negative", "Negative", "Positive"]
    mixed = District(DistrictConfig(n_schools=7, students_per_school=5)).schools
    assert 1 <= sum(s.attendance_reporting == "Positive" for s in mixed) < 4
