"""Absence codes, class schedules and the attendance truth of one enrollment span.

Attendance for a span is generated from a per-(school, student) random stream over every
instructional day of the span, so the result never depends on the window asked for. Only
days with a code are kept (a few dozen per student); present days are implied.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# -- absence code table ------------------------------------------------------------------

TYPE_DESCRIPTIONS = {
    1: "Unverified Absence", 2: "Excused Absence", 3: "Unexcused Absence", 4: "Verified Not Absent",
    5: "Tardy", 6: "Present", 8: "Verified Excused Tardy", 9: "Verified Unexcused Tardy",
}


@dataclass(frozen=True, slots=True)
class AbsenceCode:
    code: str
    title: str           # at most 10 characters, as ABS.TI
    abbreviation: str    # at most 3 characters
    type_code: int
    counts_for_ada: bool = False
    is_suspension: bool = False
    independent_study_code: str = ""
    is_temporarily_not_enrolled: bool = False
    is_partial_day_truant: bool = False

    @property
    def type_description(self) -> str:
        return TYPE_DESCRIPTIONS[self.type_code]


ABSENCE_CODES = (
    AbsenceCode("A", "UNVERIFIED", "UNV", 1),
    AbsenceCode("D", "DR NOTE", "DR", 2),
    AbsenceCode("E", "EXCUSED", "EXC", 2),
    AbsenceCode("I", "ILLNESS", "ILL", 2),
    AbsenceCode("U", "UNEXCUSED", "UNX", 3, is_partial_day_truant=True),
    AbsenceCode("T", "TARDY", "TDY", 5, counts_for_ada=True),
    AbsenceCode("X", "EXC TARDY", "XTD", 8, counts_for_ada=True),
    # In-school suspension: the student is on campus, so it is not an absence.
    AbsenceCode("N", "IN-SCH SUS", "ISS", 4, counts_for_ada=True, is_suspension=True),
    AbsenceCode("S", "SUSPENDED", "SUS", 2, is_suspension=True),
    AbsenceCode("K", "IND STUDY", "IS", 4, counts_for_ada=True, independent_study_code="C"),
    AbsenceCode("G", "TmpNotEnr", "TNE", 2, is_temporarily_not_enrolled=True),
)
PRESENT = AbsenceCode("P", "PRESENT", "PRS", 6, counts_for_ada=True)
CODE_BY_LETTER = {c.code: c for c in (*ABSENCE_CODES, PRESENT)}
ABSENT_TYPES = (1, 2, 3)
TARDY_TYPES = (5, 8, 9)


def is_absence(code: str) -> bool:
    """A full-day code that makes the day an absence (OSS included, ISS and IS not)."""
    info = CODE_BY_LETTER.get(code)
    return info is not None and info.type_code in ABSENT_TYPES and not info.is_temporarily_not_enrolled


# -- students' traits and schedules ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Traits:
    """How a student tends to attend; drawn once per student so a transfer keeps the habit."""
    absence_rate: float      # chance of a full day absent (streaks included)
    partial_rate: float      # chance of a one- or two-period absence on a day at school
    tardy_rate: float
    suspended: bool          # one out-of-school suspension during the year
    in_school_suspended: bool
    independent_study: bool  # one short independent-study contract


def draw_traits(rng: random.Random) -> Traits:
    band = rng.random()
    if band < 0.60:
        rate = rng.uniform(0.003, 0.04)
    elif band < 0.865:
        rate = rng.uniform(0.04, 0.09)
    elif band < 0.965:
        rate = rng.uniform(0.10, 0.18)
    else:
        rate = rng.uniform(0.20, 0.40)  # severe chronic absence
    return Traits(
        absence_rate=rate,
        partial_rate=rng.uniform(0.0, 0.05),
        tardy_rate=rng.uniform(0.0, 0.08) if rng.random() < 0.8 else rng.uniform(0.08, 0.2),
        suspended=rng.random() < 0.03,
        in_school_suspended=rng.random() < 0.03,
        independent_study=rng.random() < 0.01,
    )


Schedule = tuple[tuple[str, int], ...]  # ((period, section_number), ...) in period order


def section_number(period: int, section: int) -> int:
    """Aeries-like section numbers: the period in the thousands (period 0 uses 10xxx)."""
    return (period or 10) * 1000 + section


def draw_schedules(rng: random.Random, sections_per_period: int) -> tuple[Schedule, Schedule]:
    """Fall and spring schedules: periods 1-6 for everyone, some with 0 or 7; electives
    (periods 5-7) change section at the semester."""
    periods = [1, 2, 3, 4, 5, 6]
    if rng.random() < 0.22:
        periods.append(7)
    if rng.random() < 0.08:
        periods.insert(0, 0)
    fall = tuple((str(p), section_number(p, rng.randint(1, sections_per_period))) for p in periods)
    spring = tuple(
        (p, section_number(int(p), rng.randint(1, sections_per_period)) if int(p) >= 5 else s)
        for p, s in fall
    )
    return fall, spring


# -- the attendance truth of one span ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class DayCodes:
    all_day: str                          # '' when the periods differ
    periods: tuple[tuple[str, str], ...]  # (period, code) for partial days; () when all_day is set


@dataclass(frozen=True, slots=True)
class Correction:
    school_code: int
    student_id: int
    calendar_date: date
    old_code: str
    new_code: str | None   # None: the absence was cleared (the student was there)
    changed_on: date


@dataclass(slots=True)
class SpanAttendance:
    events: dict[date, DayCodes]          # as entered on the day
    corrections: dict[date, Correction]   # at most one per day

    def as_of(self, day: date, as_of: date) -> DayCodes | None:
        """The codes for `day` as they read on `as_of` (None: present, no code)."""
        codes = self.events.get(day)
        if codes is None:
            return None
        fix = self.corrections.get(day)
        if fix is None or fix.changed_on > as_of:
            return codes
        if fix.new_code is None:
            return None
        return DayCodes(fix.new_code, ())


_ENTERED_FULL_DAY = (("A", 0.45), ("I", 0.25), ("E", 0.14), ("D", 0.05), ("U", 0.11))


def _weighted(rng: random.Random, choices) -> str:
    roll = rng.random()
    for code, weight in choices:
        if roll < weight:
            return code
        roll -= weight
    return choices[-1][0]


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def generate_span(rng: random.Random, traits: Traits, days: list[date], schedule_periods: list[str],
                  school_code: int, student_id: int) -> SpanAttendance:
    """Codes for the instructional `days` of one enrollment span, and their later corrections."""
    events: dict[date, DayCodes] = {}
    n = len(days)
    start_chance = traits.absence_rate / 1.48  # mean streak length below
    i = 0
    while i < n:
        roll = rng.random()
        if roll < start_chance:
            length = 1 if rng.random() < 0.65 else (2 if rng.random() < 0.63 else 3)
            code = DayCodes(_weighted(rng, _ENTERED_FULL_DAY), ())
            for j in range(i, min(n, i + length)):
                events[days[j]] = code
            i += length
            continue
        roll = rng.random()
        if roll < traits.partial_rate:
            first = rng.randrange(len(schedule_periods))
            missed = schedule_periods[first:first + rng.choice((1, 1, 2))]
            code = "U" if rng.random() < 0.6 else "D"
            events[days[i]] = DayCodes("", tuple((p, code) for p in missed))
        elif roll < traits.partial_rate + traits.tardy_rate:
            period = schedule_periods[0] if rng.random() < 0.75 else rng.choice(schedule_periods)
            events[days[i]] = DayCodes("", ((period, "X" if rng.random() < 0.15 else "T"),))
        i += 1
    for flag, code, lengths in ((traits.suspended, "S", (1, 2, 3)), (traits.in_school_suspended, "N", (1, 2)),
                                (traits.independent_study, "K", (5,))):
        if flag and n > 10:
            first, length = rng.randrange(n - 5), rng.choice(lengths)
            for j in range(first, first + length):
                events[days[j]] = DayCodes(code, ())
    corrections: dict[date, Correction] = {}
    for day in days:  # calendar order, so the random stream does not depend on dict order
        codes = events.get(day)
        if codes is None or not codes.all_day:
            continue
        roll = rng.random()
        old, new, delay = codes.all_day, None, 0
        if old == "A":
            if roll < 0.55:      # the parent calls back within the week
                new, delay = rng.choice(("I", "I", "E", "D")), rng.randint(1, 5)
            elif roll < 0.75:    # never verified: turned unexcused weeks later
                new, delay = "U", rng.randint(8, 35)
            elif roll < 0.81:    # entered in error; cleared, some quickly, some late
                delay = rng.randint(1, 20)
            else:
                continue
        elif old in ("I", "E", "U") and roll < 0.03:
            delay = rng.randint(2, 30)  # wrong student marked absent, found later
        else:
            continue
        corrections[day] = Correction(school_code, student_id, day, old, new,
                                      _next_weekday(day + timedelta(days=delay)))
    return SpanAttendance(events, corrections)
