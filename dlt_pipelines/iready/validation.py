"""Row validation for i-Ready diagnostic results: text cells in, typed canonical values out.

A row that fails any rule is rejected whole with the first problem found (column and
reason); see docs/iready.md for the rules and the reason codes.
"""

from __future__ import annotations

import re
from datetime import date

from .layouts import (
    DATE_COLUMNS,
    DOMAIN_PREFIXES,
    FLAG_COLUMNS,
    INT_COLUMNS,
    PERCENT_COLUMNS,
    PLACEMENT_COLUMNS,
    RELATIVE_PLACEMENT_COLUMNS,
    SCALE_SCORE_COLUMNS,
)

SCORE_MIN, SCORE_MAX = 100, 800
SCALE_SCORES = frozenset(SCALE_SCORE_COLUMNS + ["mid_on_grade_level_scale_score"])

_GRADES = ["K"] + [str(g) for g in range(1, 13)]
_COURSES = ["Algebra 1", "Geometry", "Algebra 2", "CCR Math"]


def _placements() -> frozenset[str]:
    values = {"Emerging K", "Tested Out", "Surpassed Level", "Max Score", "Not Assessed"}
    for g in _GRADES + _COURSES:
        for part in ("Early", "Mid", "Late"):
            values.add(f"{part} {g}")
        for a, b in (("Early", "Mid"), ("Mid", "Late")):
            values.add(f"{a} / {b} {g}")
            values.add(f"{a}/{b} {g}")
        values.update({f"Level {g}", f"Grade {g}", g})
    return frozenset(v.casefold() for v in values)


PLACEMENTS = _placements()
RELATIVE_PLACEMENTS = frozenset(v.casefold() for v in (
    "Mid or Above Grade Level", "Early On Grade Level", "1 Grade Level Below", "2 Grade Levels Below",
    "3 or More Grade Levels Below", "Not Assessed", "Tested Out",
    # older 3/4-level wording
    "On Level", "Above Level", "1 Level Below", "2 Levels Below", "2 or More Levels Below",
    "3 or More Levels Below",
))
FLAGS = frozenset({"Y", "N", "y", "n"})
_YEAR = re.compile(r"^(\d{4})-(\d{4})$")
_DATE_CACHE: dict[str, date | None] = {}


class RowError(Exception):
    def __init__(self, column: str | None, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


def parse_date(text: str) -> date | None:
    """M/D/YYYY, MM-DD-YYYY (both seen in vendor files) or YYYY-MM-DD; None if not a date."""
    if text in _DATE_CACHE:
        return _DATE_CACHE[text]
    value: date | None = None
    try:
        if "/" in text:
            m, d, y = text.split("/")
        else:
            parts = text.split("-")
            if len(parts[0]) == 4:
                y, m, d = parts
            else:
                m, d, y = parts
        if len(y) == 4:
            value = date(int(y), int(m), int(d))
    except ValueError:
        value = None
    if len(_DATE_CACHE) < 100_000:
        _DATE_CACHE[text] = value
    return value


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = float(text.replace(",", ""))  # "512.0" or "1,035" exported by spreadsheets
        if not number.is_integer():
            raise
        return int(number)


def valid_academic_year(text: str) -> bool:
    m = _YEAR.match(text)
    return bool(m) and int(m.group(2)) == int(m.group(1)) + 1


TEXT, INT, SCORE, PERCENT, DATE, PLACEMENT, RELATIVE, FLAG, YEAR = range(9)


class RowValidator:
    """Validates and converts one file's rows; ``columns`` maps file position -> canonical name.

    ``convert`` returns the typed values in the order of ``names`` (the canonical columns
    the file has, in canonical order).
    """

    def __init__(self, columns: list[str | None], subject: str, academic_year: str | None,
                 order: list[str] | None = None):
        from .layouts import CANONICAL

        self.width = len(columns)
        self.subject = subject
        self.academic_year = academic_year
        present = {c: i for i, c in enumerate(columns) if c}
        self.present = present
        self.names = [c for c in (order or CANONICAL) if c in present]
        if "academic_year" not in present:
            self.names.append("academic_year")
        specs = []
        for c in self.names:
            if c in SCALE_SCORES:
                kind = SCORE
            elif c in INT_COLUMNS:
                kind = INT
            elif c in PERCENT_COLUMNS:
                kind = PERCENT
            elif c in DATE_COLUMNS:
                kind = DATE
            elif c in PLACEMENT_COLUMNS:
                kind = PLACEMENT
            elif c in RELATIVE_PLACEMENT_COLUMNS:
                kind = RELATIVE
            elif c in FLAG_COLUMNS:
                kind = FLAG
            elif c == "academic_year":
                kind = YEAR
            else:
                kind = TEXT
            specs.append((present.get(c, -1), c, kind))
        self.specs = specs
        self.domain_cells = [present[f"{p}_{part}"] for p in DOMAIN_PREFIXES[subject]
                             for part in ("scale_score", "placement") if f"{p}_{part}" in present]
        self.i_student = present.get("student_id")
        self.pos_start, self.pos_completion, self.pos_overall = (
            self.names.index(c) if c in present else None
            for c in ("start_date", "completion_date", "overall_scale_score"))

    def convert(self, cells: list[str]) -> list:
        """Typed values for a row (in ``names`` order), or raise RowError."""
        if len(cells) != self.width:
            raise RowError(None, f"wrong_field_count: {len(cells)} fields, the header has {self.width}"
                                 " (truncated or malformed line)")
        if self.i_student is None or not cells[self.i_student].strip():
            raise RowError("student_id", "missing_student_id: Student ID is empty")
        out: list = []
        append = out.append
        for i, c, kind in self.specs:
            v = cells[i].strip() if i >= 0 else ""
            if kind == TEXT:
                append(v or None)
            elif not v:
                if kind == YEAR:
                    v = self.academic_year or ""
                    if not valid_academic_year(v):
                        raise RowError(c, "invalid_academic_year: Academic Year is empty")
                    append(v)
                elif kind == DATE:
                    raise RowError(c, "invalid_date: the date is empty")
                else:
                    append(None)
            elif kind in (SCORE, INT):
                try:
                    n = parse_int(v)
                except ValueError:
                    code = "scale_score_not_integer" if kind == SCORE else "not_an_integer"
                    raise RowError(c, f"{code}: {v!r} is not a whole number") from None
                if kind == SCORE and not SCORE_MIN <= n <= SCORE_MAX:
                    raise RowError(c, f"scale_score_out_of_range: {n} is outside {SCORE_MIN}-{SCORE_MAX}")
                if c == "percentile" and not 1 <= n <= 99:
                    raise RowError(c, f"percentile_out_of_range: {n} is outside 1-99")
                append(n)
            elif kind == DATE:
                d = parse_date(v)
                if d is None:
                    raise RowError(c, f"invalid_date: {v!r} is not a date (M/D/YYYY)")
                append(d)
            elif kind == PLACEMENT:
                if v.casefold() not in PLACEMENTS:
                    raise RowError(c, f"unknown_placement: {v!r} is not an i-Ready placement")
                append(v)
            elif kind == RELATIVE:
                if v.casefold() not in RELATIVE_PLACEMENTS:
                    raise RowError(c, f"unknown_relative_placement: {v!r} is not a relative placement")
                append(v)
            elif kind == PERCENT:
                try:
                    append(float(v.rstrip("%")))
                except ValueError:
                    raise RowError(c, f"percent_not_numeric: {v!r} is not a number") from None
            elif kind == FLAG:
                if v not in FLAGS:
                    raise RowError(c, f"invalid_flag: {v!r} is not Y or N")
                append(v.upper())
            else:  # YEAR
                if not valid_academic_year(v):
                    raise RowError(c, f"invalid_academic_year: {v!r} is not like 2024-2025")
                append(v)
        if self.pos_start is None or self.pos_completion is None:
            raise RowError("start_date", "invalid_date: the file has no Start/Completion Date")
        if out[self.pos_completion] < out[self.pos_start]:
            raise RowError("completion_date", "completion_before_start: completion date is before start date")
        if self.pos_overall is None or out[self.pos_overall] is None:
            raise RowError("overall_scale_score", "missing_scale_score: Overall Scale Score is empty")
        if self.domain_cells and not any(cells[i].strip() for i in self.domain_cells):
            raise RowError(None, f"missing_domain_scores: no {self.subject} domain score or placement")
        return out
