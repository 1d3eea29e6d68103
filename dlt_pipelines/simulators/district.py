"""The synthetic school district: schools, students, enrollments, calendars and attendance.

Everything derives from `DistrictConfig.seed` through per-school and per-student random
streams seeded by strings (hashed with SHA-512 by `random`, so independent of
PYTHONHASHSEED): the same seed gives the same district byte for byte. People and
enrollments are materialised (small); attendance is generated per school on demand and
streamed, so a 50-school year never sits in memory at once.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from . import names
from .attendance_gen import (
    ABSENCE_CODES,
    CODE_BY_LETTER,
    PRESENT,
    TARDY_TYPES,
    AbsenceCode,
    Correction,
    DayCodes,
    Schedule,
    SpanAttendance,
    Traits,
    draw_schedules,
    draw_traits,
    generate_span,
    is_absence,
)
from .calendar_gen import CalendarDay, Term, build_calendar, build_terms

# Exit reasons (CALPADS-style codes as Aeries districts map them).
EXIT_TRANSFER = "T160"      # to another California public school, including one in this district
EXIT_PRIVATE = "T180"       # to a private school
EXIT_OUT_OF_STATE = "T240"  # moved out of state


@dataclass
class DistrictConfig:
    seed: int = 20240815
    n_schools: int = 7
    students_per_school: int = 1000
    start_date: date = date(2024, 8, 15)
    end_date: date = date(2025, 6, 12)
    # None: a mix (every fourth school from the second is Positive); "all"; or school codes.
    positive_schools: None | str | Iterable[int] = None
    first_school_code: int = 101


@dataclass(frozen=True, slots=True)
class School:
    school_code: int
    name: str
    low_grade: int
    high_grade: int
    attendance_type: str        # "Period"
    attendance_reporting: str   # "Negative" | "Positive"
    principal_name: str
    address: str
    city: str
    zip_code: str
    phone: str
    state_school_id: str


@dataclass(slots=True)
class Student:
    student_id: int            # permanent across the district; prefix = first school's code
    student_number: int        # per school in Aeries: the number at `school_code`
    state_student_id: str
    first_name: str
    middle_name: str
    last_name: str
    gender: str
    birthdate: date
    grade: int
    school_code: int           # latest school
    address: str
    traits: Traits
    district_enter_date: date


@dataclass(frozen=True, slots=True)
class Enrollment:
    student_id: int
    school_code: int
    student_number: int
    grade: int
    enter_date: date
    leave_date: date | None    # last enrolled day (inclusive); None while still enrolled
    exit_reason_code: str


class AttendanceRecord(NamedTuple):
    student_id: int
    calendar_date: date
    all_day_code: str
    classes: tuple[tuple[str, int, str], ...]  # (period, section_number, code)


@dataclass(slots=True)
class _Span:
    enrollment: Enrollment
    days: list[date]           # instructional days enrolled
    fall: Schedule
    spring: Schedule
    attendance: SpanAttendance
    present_fall: tuple = field(default=())
    present_spring: tuple = field(default=())


# Counters of the nightly Attendance History job (AHS), in Aeries' field names.
HISTORY_FIELDS = (
    "DaysEnrolled", "DaysPresent", "DaysAbsence", "DaysExcused", "DaysUnexcused", "DaysTardy",
    "DaysOfTruancy", "DaysSuspension", "DaysInSchoolSuspension", "DaysCompleteIndependentStudy",
    "DaysIncompleteIndependentStudy", "PeriodsExpectedToAttend", "PeriodsAttended",
    "PeriodsOutOfSchoolSuspension", "PeriodsAttendedInSchoolSuspension", "PeriodsExcusedAbsence",
    "PeriodsUnexcusedAbsence", "PeriodsCompleteIndependentStudy", "PeriodsIncompleteIndependentStudy",
)


class District:
    SPAN_CACHE_SCHOOLS = 4  # generated schools kept; bounds memory at any scale

    def __init__(self, config: DistrictConfig | None = None):
        self.config = config or DistrictConfig()
        cfg = self.config
        self.fall_year = cfg.start_date.year if cfg.start_date.month >= 7 else cfg.start_date.year - 1
        self.school_year = f"{self.fall_year}-{self.fall_year + 1}"
        self._calendar = build_calendar(cfg.start_date, cfg.end_date)
        self._terms = build_terms(self._calendar)
        self.instructional_days = [d.calendar_date for d in self._calendar if d.is_instructional]
        self.spring_start = next((t.start for t in self._terms if t.code == "S"), date.max)
        self.schools = self._build_schools()
        self._school_by_code = {s.school_code: s for s in self.schools}
        self.students: list[Student] = []
        self._enrollments: dict[int, list[Enrollment]] = {s.school_code: [] for s in self.schools}
        self._build_people()
        self._student_by_id = {s.student_id: s for s in self.students}
        self._spans: OrderedDict[int, dict[int, _Span]] = OrderedDict()
        self._drift: dict[int, dict[int, str]] = {}
        # edits made after generation (tests drive nights with them): (school, student, day) ->
        # [(changed_on, codes or None for "no code")], in the order they were made
        self._edits: dict[tuple[int, int, date], list[tuple[date, DayCodes | None]]] = {}
        self._generated_leave: dict[tuple[int, int], date | None] = {}  # leave dates before withdraw()
        self._lock = threading.Lock()

    # -- building --------------------------------------------------------------------
    def _rng(self, *parts) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.config.seed, *parts)))

    def _positive_codes(self, codes: list[int]) -> set[int]:
        chosen = self.config.positive_schools
        if chosen is None:
            return {code for i, code in enumerate(codes) if i % 4 == 1}
        if chosen == "all":
            return set(codes)
        return {int(c) for c in chosen}

    def _build_schools(self) -> list[School]:
        cfg = self.config
        codes = [cfg.first_school_code + i for i in range(cfg.n_schools)]
        positive = self._positive_codes(codes)
        schools = []
        for i, code in enumerate(codes):
            rng = self._rng("school", code)
            first, last = names.person(rng, rng.choice("FM"))
            schools.append(School(
                school_code=code, name=names.school_name(i), low_grade=6, high_grade=8,
                attendance_type="Period",
                attendance_reporting="Positive" if code in positive else "Negative",
                principal_name=f"{first} {last}", address=names.address(rng), city="Alder Springs",
                zip_code=f"95{rng.randint(100, 999)}", phone=f"555555{rng.randint(1000, 9999)}",
                state_school_id=f"{6_000_000 + code * 37:07d}",
            ))
        return schools

    def _build_people(self) -> None:
        cfg, days = self.config, self.instructional_days
        n_days = len(days)
        next_number = {s.school_code: cfg.students_per_school for s in self.schools}
        transfers: list[tuple[Student, int, int]] = []  # (student, destination, enter index)
        for school in self.schools:
            sc = school.school_code
            for k in range(1, cfg.students_per_school + 1):
                sid = sc * 100_000 + k
                rng = self._rng("person", sid)
                gender = rng.choice("FM")
                first, last = names.person(rng, gender)
                middle, _ = names.person(rng, gender)
                grade = rng.choice((6, 7, 8))
                born = date(self.fall_year - grade - 6, 9, 2) + timedelta(days=rng.randrange(365))
                student = Student(
                    student_id=sid, student_number=k,
                    state_student_id=str(1_000_000_000 + (sid * 7919 + cfg.seed) % 9_000_000_000),
                    first_name=first, middle_name=middle, last_name=last, gender=gender,
                    birthdate=born, grade=grade, school_code=sc, address=names.address(rng),
                    traits=draw_traits(rng), district_enter_date=date(self.fall_year - grade, 8, 20),
                )
                self.students.append(student)
                enter, leave, reason = days[0], None, ""
                roll = rng.random()
                if roll < 0.04 and n_days > 130:  # late entry: arrived during the year
                    enter = days[rng.randint(5, 120)]
                    student.district_enter_date = enter
                elif roll < 0.075 and n_days > 30:  # withdrew: left the district
                    leave = days[rng.randint(10, n_days - 10)]
                    reason = rng.choice((EXIT_TRANSFER, EXIT_PRIVATE, EXIT_OUT_OF_STATE))
                elif roll < 0.095 and n_days > 40 and cfg.n_schools > 1:  # moved to a district school
                    at = rng.randint(15, n_days - 20)
                    leave, reason = days[at], EXIT_TRANSFER
                    dest = rng.choice([s.school_code for s in self.schools if s.school_code != sc])
                    transfers.append((student, dest, at + rng.randint(1, 4)))
                self._enrollments[sc].append(Enrollment(sid, sc, k, grade, enter, leave, reason))
        for student, dest, at in transfers:
            next_number[dest] += 1
            student.school_code, student.student_number = dest, next_number[dest]
            self._enrollments[dest].append(
                Enrollment(student.student_id, dest, next_number[dest], student.grade, days[at], None, ""))
        self._by_student: dict[int, list[Enrollment]] = {}
        for spans in self._enrollments.values():
            spans.sort(key=lambda e: (e.student_id, e.enter_date))
            for e in spans:
                self._by_student.setdefault(e.student_id, []).append(e)
        for spans in self._by_student.values():
            spans.sort(key=lambda e: e.enter_date)

    # -- reference data --------------------------------------------------------------
    def school(self, school_code: int) -> School:
        return self._school_by_code[school_code]

    def student(self, student_id: int) -> Student:
        return self._student_by_id[student_id]

    def is_positive(self, school_code: int) -> bool:
        return self.school(school_code).attendance_reporting == "Positive"

    def calendar(self, school_code: int) -> list[CalendarDay]:
        """Every date from start to end (weekends included, flagged)."""
        self.school(school_code)
        return list(self._calendar)

    def terms(self, school_code: int) -> list[Term]:
        self.school(school_code)
        return list(self._terms)

    def absence_codes(self, school_code: int) -> list[AbsenceCode]:
        codes = list(ABSENCE_CODES)
        if self.is_positive(school_code):
            codes.append(PRESENT)
        return sorted(codes, key=lambda c: c.code)

    def enrollments(self, school_code: int) -> list[Enrollment]:
        """Every enrollment span at the school this year (the truth, not as-of)."""
        return list(self._enrollments[school_code])

    def students_at(self, school_code: int) -> list[Enrollment]:
        return self._enrollments[school_code]

    def schedule(self, school_code: int, student_id: int, on: date | None = None) -> Schedule:
        """The student's (period, section_number) pairs at the school on a date (default: fall)."""
        span = self._span(school_code, student_id)
        if span is None:
            raise KeyError(f"student {student_id} has no enrollment at school {school_code}")
        return span.spring if on is not None and on >= self.spring_start else span.fall

    # -- attendance ------------------------------------------------------------------
    def _school_spans(self, school_code: int) -> dict[int, _Span]:
        with self._lock:
            spans = self._spans.get(school_code)
            if spans is not None:
                self._spans.move_to_end(school_code)
                return spans
        spans = {e.student_id: self._make_span(e) for e in self._enrollments[school_code]}
        with self._lock:
            self._spans[school_code] = spans
            while len(self._spans) > self.SPAN_CACHE_SCHOOLS:
                self._spans.popitem(last=False)
        return spans

    def _span(self, school_code: int, student_id: int) -> _Span | None:
        """One span, from the school cache if generated, else built alone (cheap)."""
        with self._lock:
            spans = self._spans.get(school_code)
        if spans is not None:
            return spans.get(student_id)
        for e in self._by_student.get(student_id, ()):
            if e.school_code == school_code:
                return self._make_span(e)
        return None

    def _span_days(self, enrollment: Enrollment) -> list[date]:
        days = self.instructional_days
        lo = bisect.bisect_left(days, enrollment.enter_date)
        hi = len(days) if enrollment.leave_date is None else bisect.bisect_right(days, enrollment.leave_date)
        return days[lo:hi]

    def _make_span(self, enrollment: Enrollment) -> _Span:
        sc, sid = enrollment.school_code, enrollment.student_id
        sections = max(2, self.config.students_per_school // 28)
        fall, spring = draw_schedules(self._rng("schedule", sc, sid), sections)
        # codes are drawn over the span as generated, so a later withdrawal keeps the earlier days
        generated = dataclasses.replace(enrollment, leave_date=self._generated_leave.get((sc, sid),
                                                                                         enrollment.leave_date))
        attendance = generate_span(self._rng("attendance", sc, sid), self.student(sid).traits,
                                   self._span_days(generated), [p for p, _ in fall], sc, sid)
        days = self._span_days(enrollment)
        span = _Span(enrollment, days, fall, spring, attendance)
        span.present_fall = tuple((p, s, PRESENT.code) for p, s in fall)
        span.present_spring = tuple((p, s, PRESENT.code) for p, s in spring)
        return span

    def attendance(self, school_code: int, start: date | None = None, end: date | None = None,
                   as_of: date | None = None, student_id: int | None = None) -> Iterator[AttendanceRecord]:
        """Student-days as the SIS shows them on `as_of`, by student then date.

        Negative schools: only days with a code. Positive schools: every enrolled
        instructional day, with the present code on days and periods without another code.
        Shared tuples are reused for all-present days, so streaming stays cheap.
        """
        as_of = as_of or self.config.end_date
        start = start or self.config.start_date
        end = min(end or self.config.end_date, as_of)
        positive = self.is_positive(school_code)
        spring_start = self.spring_start
        spans = self._school_spans(school_code)
        ids = [student_id] if student_id is not None else sorted(spans)
        for sid in ids:
            span = spans.get(sid)
            if span is None:
                continue
            days = span.days
            lo, hi = bisect.bisect_left(days, start), bisect.bisect_right(days, end)
            state = span.attendance
            for day in days[lo:hi]:
                codes = state.as_of(day, as_of)
                if self._edits:
                    codes = self._edited(school_code, sid, day, as_of, codes)
                spring = day >= spring_start
                if codes is None:
                    if positive:
                        yield AttendanceRecord(sid, day, PRESENT.code,
                                               span.present_spring if spring else span.present_fall)
                    continue
                schedule = span.spring if spring else span.fall
                if codes.all_day:
                    classes = tuple((p, s, codes.all_day) for p, s in schedule)
                else:
                    coded = dict(codes.periods)
                    if positive:
                        classes = tuple((p, s, coded.get(p, PRESENT.code)) for p, s in schedule)
                    else:
                        classes = tuple((p, s, coded[p]) for p, s in schedule if p in coded)
                yield AttendanceRecord(sid, day, codes.all_day, classes)

    # -- edits (what a school office does after generation; tests replay nights with them) ----
    def edit_day(self, school_code: int, student_id: int, day: date, all_day: str | None,
                 changed_on: date) -> None:
        """From ``changed_on`` on, the student-day reads ``all_day`` (None: no code, the student was
        there). Refused on a date the student is not enrolled."""
        span = self._span(school_code, student_id)
        if span is None or day not in span.days:
            raise ValueError(f"student {student_id} is not enrolled at {school_code} on {day}")
        codes = DayCodes(all_day, ()) if all_day else None
        self._edits.setdefault((school_code, student_id, day), []).append((changed_on, codes))

    def _edited(self, school_code: int, student_id: int, day: date, as_of: date,
                codes: DayCodes | None) -> DayCodes | None:
        for changed_on, edited in self._edits.get((school_code, student_id, day), ()):
            if changed_on <= as_of:
                codes = edited
        return codes

    def withdraw(self, school_code: int, student_id: int, leave_date: date,
                 reason: str = EXIT_PRIVATE) -> None:
        """The student's span at the school ends on ``leave_date`` (the last enrolled day); the
        days after it leave the SIS. Only a span still open can be closed."""
        spans = self._enrollments[school_code]
        for i, e in enumerate(spans):
            if e.student_id == student_id and e.leave_date is None and e.enter_date <= leave_date:
                self._generated_leave.setdefault((school_code, student_id), None)
                spans[i] = dataclasses.replace(e, leave_date=leave_date, exit_reason_code=reason)
                by_student = self._by_student[student_id]
                by_student[by_student.index(e)] = spans[i]
                with self._lock:
                    self._spans.pop(school_code, None)
                return
        raise ValueError(f"student {student_id} has no open enrollment at {school_code} on {leave_date}")

    def iter_corrections(self, school_code: int) -> Iterator[Correction]:
        spans = self._school_spans(school_code)
        for sid in sorted(spans):
            fixes = spans[sid].attendance.corrections
            for day in sorted(fixes):
                yield fixes[day]

    @property
    def corrections(self) -> list[Correction]:
        """Every correction in the district, by school, student and date."""
        return [c for s in self.schools for c in self.iter_corrections(s.school_code)]

    # -- attendance history (Aeries AHS) ---------------------------------------------
    def history_truth(self, school_code: int, student_id: int, as_of: date) -> dict[str, int]:
        """AHS counters for one student at one school, by Aeries' rules, from the truth.

        Day counts follow the all-day code; tardy and truancy also look at periods.
        Out-of-school suspension is an absence; in-school suspension and independent study
        are not.
        """
        span = self._span(school_code, student_id)
        counts = dict.fromkeys(HISTORY_FIELDS, 0)
        if span is None:
            return counts
        days = span.days[:bisect.bisect_right(span.days, as_of)]
        for day in days:
            n_periods = len(span.spring if day >= self.spring_start else span.fall)
            counts["DaysEnrolled"] += 1
            counts["PeriodsExpectedToAttend"] += n_periods
            codes = span.attendance.as_of(day, as_of)
            if codes is None:
                counts["PeriodsAttended"] += n_periods
                continue
            period_codes = [c for _, c in codes.periods] if not codes.all_day else [codes.all_day] * n_periods
            if any(CODE_BY_LETTER[c].type_code in TARDY_TYPES for c in period_codes):
                counts["DaysTardy"] += 1
            if "U" in period_codes:
                counts["DaysOfTruancy"] += 1
            for code in period_codes:
                info = CODE_BY_LETTER[code]
                if info.is_suspension and not is_absence(code):
                    counts["PeriodsAttendedInSchoolSuspension"] += 1
                elif info.is_suspension:
                    counts["PeriodsOutOfSchoolSuspension"] += 1
                elif info.independent_study_code == "C":
                    counts["PeriodsCompleteIndependentStudy"] += 1
                elif info.type_code == 2:
                    counts["PeriodsExcusedAbsence"] += 1
                elif info.type_code in (1, 3):
                    counts["PeriodsUnexcusedAbsence"] += 1
            absent_periods = sum(1 for c in period_codes if is_absence(c))
            counts["PeriodsAttended"] += n_periods - absent_periods
            al = codes.all_day
            if not al:
                continue
            info = CODE_BY_LETTER[al]
            if al == "N":
                counts["DaysInSchoolSuspension"] += 1
            elif info.independent_study_code == "C":
                counts["DaysCompleteIndependentStudy"] += 1
            elif is_absence(al):
                counts["DaysAbsence"] += 1
                if info.is_suspension:
                    counts["DaysSuspension"] += 1
                elif info.type_code == 2:
                    counts["DaysExcused"] += 1
                else:
                    counts["DaysUnexcused"] += 1
        counts["DaysPresent"] = counts["DaysEnrolled"] - counts["DaysAbsence"]
        return counts

    def history_discrepancies(self, school_code: int) -> dict[int, str]:
        """Students whose AHS row deliberately differs from the truth, and how.

        Real AHS rows drift from ATT (a re-run missed, a manual edit), so the reconciliation
        has something to find: about 1 in 80 students, at least one per school, get either
        "enrolled+1" (DaysEnrolled and DaysPresent one higher) or "excused_unexcused"
        (one unexcused day reported as excused, or one extra excused day if none).
        """
        drift = self._drift.get(school_code)
        if drift is None:
            ids = [e.student_id for e in self._enrollments[school_code]]
            rng = self._rng("history-drift", school_code)
            chosen = sorted(rng.sample(ids, max(1, len(ids) // 80))) if ids else []
            kinds = ("enrolled+1", "excused_unexcused")
            drift = {sid: kinds[i % 2] for i, sid in enumerate(chosen)}
            self._drift[school_code] = drift
        return drift

    def history_reported(self, school_code: int, student_id: int, as_of: date) -> dict[str, int]:
        counts = self.history_truth(school_code, student_id, as_of)
        kind = self.history_discrepancies(school_code).get(student_id)
        if kind == "enrolled+1" and counts["DaysEnrolled"]:
            counts["DaysEnrolled"] += 1
            counts["DaysPresent"] += 1
        elif kind == "excused_unexcused":
            if counts["DaysUnexcused"]:
                counts["DaysUnexcused"] -= 1
            else:
                counts["DaysAbsence"] += 1
                counts["DaysPresent"] -= 1
            counts["DaysExcused"] += 1
        return counts

    def history_summary(self, school_code: int, as_of: date, student_id: int | None = None) -> list[dict]:
        """Aeries AttendanceHistory/summary for a school on `as_of`: students with a record
        at the school, each with a row per school attended this year (Aeries quirk: the
        history "may include data from other schools"). A student_id ignores the school."""
        if student_id is not None:
            spans = self._by_student.get(student_id, ())
            ids = [student_id] if any(e.enter_date <= as_of for e in spans) else []
        else:
            ids = sorted({e.student_id for e in self._enrollments[school_code] if e.enter_date <= as_of})
        result = []
        for sid in ids:
            rows, done = [], set()
            for e in self._by_student[sid]:
                if e.enter_date <= as_of and e.school_code not in done:
                    done.add(e.school_code)
                    counts = self.history_reported(e.school_code, sid, as_of)
                    rows.append({"SchoolCode": e.school_code, "SchoolYear": self.school_year, **counts})
            result.append({"StudentID": sid, "HistorySummaries": rows})
        return result
