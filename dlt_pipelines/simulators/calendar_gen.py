"""A US school-year calendar built from rules, so any start/end year works.

Aeries stores one DAY row per weekday (the documented example jumps from Friday to Monday),
numbered 1..n (CalendarDayNumber) including holidays. HolidayCode: '' normal day, '#' school
holiday, '@' not in session (breaks), '%' minimum day (instructional), '$' staff development
(no students). AttendanceMonth groups 20 weekdays (four Mon-Fri weeks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

INSTRUCTIONAL_CODES = ("", "%")


@dataclass(frozen=True, slots=True)
class CalendarDay:
    calendar_date: date
    day_number: int          # 0 on weekends (Aeries has no DAY row for them)
    holiday_code: str
    attendance_month: int    # 0 on weekends
    is_weekend: bool

    @property
    def is_instructional(self) -> bool:
        return not self.is_weekend and self.holiday_code in INSTRUCTIONAL_CODES


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    description: str
    start: date
    end: date


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(5)]


def special_days(fall_year: int) -> dict[date, str]:
    """Holiday codes for the school year starting in `fall_year` (weekdays only)."""
    spring = fall_year + 1
    codes: dict[date, str] = {}
    for day in (
        _nth_weekday(fall_year, 9, 0, 1),            # Labor Day
        _observed(date(fall_year, 11, 11)),          # Veterans Day
        _nth_weekday(spring, 1, 0, 3),               # Martin Luther King Jr. Day
        _nth_weekday(spring, 2, 0, 3),               # Presidents' Day
        _last_weekday(spring, 5, 0),                 # Memorial Day
    ):
        codes[day] = "#"
    thanksgiving = _nth_weekday(fall_year, 11, 3, 4)
    for day in _week_of(thanksgiving):
        codes[day] = "#" if day in (thanksgiving, thanksgiving + timedelta(days=1)) else "@"
    winter = _week_of(date(fall_year, 12, 24)) + _week_of(date(fall_year, 12, 24) + timedelta(days=7))
    for day in winter:
        codes[day] = "#" if day in (date(fall_year, 12, 25), date(spring, 1, 1)) else "@"
    for day in _week_of(_last_weekday(spring, 3, 0)):  # spring break: week of the last Monday in March
        codes[day] = "@"
    codes[_nth_weekday(fall_year, 10, 4, 2)] = "$"   # staff development Friday, no students
    # Minimum days: the last day before Thanksgiving week and before winter break.
    codes.setdefault(_week_of(thanksgiving)[0] - timedelta(days=3), "%")
    codes.setdefault(winter[0] - timedelta(days=3), "%")
    return codes


def build_calendar(start: date, end: date) -> list[CalendarDay]:
    codes = special_days(start.year if start.month >= 7 else start.year - 1)
    days: list[CalendarDay] = []
    weekday_index = 0
    current = start
    while current <= end:
        if current.weekday() >= 5:
            days.append(CalendarDay(current, 0, "@", 0, True))
        else:
            code = codes.get(current, "")
            if current == end and code == "":
                code = "%"  # the last day of school is a minimum day
            weekday_index += 1
            days.append(CalendarDay(current, weekday_index, code, (weekday_index - 1) // 20 + 1, False))
        current += timedelta(days=1)
    return days


def build_terms(days: list[CalendarDay]) -> list[Term]:
    """Quarters, semesters and the year, split at winter break (Aeries TRM rows)."""
    instructional = [d.calendar_date for d in days if d.is_instructional]
    if not instructional:
        return []
    first, last = instructional[0], instructional[-1]
    fall_year = first.year if first.month >= 7 else first.year - 1
    fall = [d for d in instructional if d < date(fall_year, 12, 31)]
    spring = [d for d in instructional if d > date(fall_year, 12, 31)]
    if not fall or not spring:
        return [Term("Y", "Year", first, last)]
    f_mid, s_mid = fall[len(fall) // 2], spring[len(spring) // 2]
    return [
        Term("1", "1st Quarter", first, fall[len(fall) // 2 - 1]),
        Term("2", "2nd Quarter", f_mid, fall[-1]),
        Term("3", "3rd Quarter", spring[0], spring[len(spring) // 2 - 1]),
        Term("4", "4th Quarter", s_mid, last),
        Term("F", "Fall", first, fall[-1]),
        Term("S", "Spring", spring[0], last),
        Term("Y", "Year", first, last),
    ]
