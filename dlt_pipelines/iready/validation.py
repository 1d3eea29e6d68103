"""Row validation for i-Ready diagnostic results: text cells in, typed canonical values out.

A row that fails any rule is rejected whole with the first problem found (column and
reason); see docs/iready.md for the rules and the reason codes.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

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
# whole-number columns that cannot be negative, and their upper bound
NON_NEGATIVE = {"duration_min": 24 * 60, "grouping": 99}
PERCENT_LIMIT = 1e6
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
_INT_RE = r"^[+-]?[0-9]+(\.0*)?$"
_NUM_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


class RowValidator:
    """Validates and converts one file's rows, a chunk at a time, with Arrow compute.

    ``columns`` maps file position -> canonical name. ``validate`` returns typed Arrow arrays
    (one per name in ``names``, the canonical columns the file has), a mask of the valid rows
    and, for each invalid row, its first problem (column, reason).
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
        for required in ("academic_year", "start_date", "completion_date"):
            if required not in present:
                self.names.append(required)
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
        self.domains = [f"{p}_{part}" for p in DOMAIN_PREFIXES[subject]
                        for part in ("scale_score", "placement") if f"{p}_{part}" in present]

    def validate(self, rows: list[list[str]]) -> tuple[dict[str, Any], Any, dict]:
        """Typed arrays, the valid-row mask (None when all are valid) and the failures by row index."""
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(self.width)]
        return self.validate_columns(columns, len(rows))

    def validate_columns(self, columns: list, n: int) -> tuple[dict[str, Any], Any, dict]:
        """Like ``validate`` for a chunk given column-wise (Arrow string arrays or sequences).

        Blank rows (every cell empty) are dropped: not valid and not failures.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        typed: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        rules: list[tuple[Any, str | None, str, str]] = []  # (failing mask, column, code, message)
        empty = pa.nulls(n, pa.string())
        for i, c, kind in self.specs:
            if i >= 0:
                col = columns[i] if isinstance(columns[i], pa.Array) else pa.array(columns[i], pa.string())
                v = pc.utf8_trim_whitespace(col)
                v = pc.if_else(pc.equal(v, ""), pa.scalar(None, pa.string()), v)
            else:
                v = empty
            raw[c] = v
            present = pc.is_valid(v)
            if kind == TEXT:
                typed[c] = v
            elif kind in (INT, SCORE):
                ok = pc.fill_null(pc.match_substring_regex(v, _INT_RE), False)
                code = "scale_score_not_integer" if kind == SCORE else "not_an_integer"
                rules.append((pc.and_kleene(present, pc.invert(ok)), c, code, "{} is not a whole number"))
                # at most 15 digits: no int64 overflow, whatever the cell holds
                digits = pc.utf8_length(pc.replace_substring_regex(v, r"^[+-]?0*|\.0*$", ""))
                huge = pc.fill_null(pc.and_(ok, pc.greater(digits, 15)), False)
                rules.append((huge, c, "number_out_of_range", "{} is too large"))
                ok = pc.and_(ok, pc.invert(huge))
                clean = pc.replace_substring_regex(pc.if_else(ok, v, pa.scalar(None, pa.string())),
                                                   r"\.0*$|^\+", "")
                number = pc.cast(clean, pa.int64())
                if kind == SCORE:
                    low, high, code = SCORE_MIN, SCORE_MAX, "scale_score_out_of_range"
                elif c == "percentile":
                    low, high, code = 1, 99, "percentile_out_of_range"
                elif c in NON_NEGATIVE:
                    low, high, code = 0, NON_NEGATIVE[c], f"{c.split('_')[0]}_out_of_range"
                else:
                    low = None
                if low is not None:
                    outside = pc.or_(pc.less(number, low), pc.greater(number, high))
                    rules.append((pc.fill_null(outside, False), c, code, f"{{}} is outside {low}-{high}"))
                typed[c] = number
            elif kind == PERCENT:
                clean = pc.utf8_rtrim(v, characters="%")
                ok = pc.fill_null(pc.match_substring_regex(clean, _NUM_RE), False)
                rules.append((pc.and_kleene(present, pc.invert(ok)), c, "percent_not_numeric",
                              "{} is not a number"))
                number = pc.cast(pc.if_else(ok, clean, pa.scalar(None, pa.string())), pa.float64())
                # 1e400 reads as infinity: a number no export holds
                huge = pc.fill_null(pc.invert(pc.less_equal(pc.abs(number), PERCENT_LIMIT)), False)
                rules.append((huge, c, "number_out_of_range", f"{{}} is beyond +/-{PERCENT_LIMIT:g}"))
                typed[c] = pc.if_else(huge, pa.scalar(None, pa.float64()), number)
            elif kind == DATE:
                uniques = pc.unique(v)
                parsed = pa.array([parse_date(u) if u is not None else None for u in uniques.to_pylist()],
                                  pa.date32())
                d = pc.take(parsed, pc.index_in(v, value_set=uniques))
                rules.append((pc.invert(pc.is_valid(d)), c, "invalid_date", "{} is not a date (M/D/YYYY)"))
                typed[c] = d
            elif kind in (PLACEMENT, RELATIVE):
                allowed = PLACEMENTS if kind == PLACEMENT else RELATIVE_PLACEMENTS
                ok = pc.is_in(pc.utf8_lower(v), value_set=pa.array(sorted(allowed), pa.string()))
                code = "unknown_placement" if kind == PLACEMENT else "unknown_relative_placement"
                what = "an i-Ready placement" if kind == PLACEMENT else "a relative placement"
                rules.append((pc.and_kleene(present, pc.invert(ok)), c, code, "{} is not " + what))
                typed[c] = v
            elif kind == FLAG:
                upper = pc.utf8_upper(v)
                ok = pc.is_in(upper, value_set=pa.array(["Y", "N"]))
                rules.append((pc.and_kleene(present, pc.invert(ok)), c, "invalid_flag", "{} is not Y or N"))
                typed[c] = upper
            else:  # YEAR: the Academic Year column, else the year folder
                if self.academic_year:
                    v = pc.fill_null(v, self.academic_year)
                    raw[c] = v
                ok = pc.fill_null(pc.match_substring_regex(v, r"^[0-9]{4}-[0-9]{4}$"), False)
                text = pc.if_else(ok, v, pa.scalar(None, pa.string()))
                first = pc.cast(pc.utf8_slice_codeunits(text, 0, 4), pa.int32())
                second = pc.cast(pc.utf8_slice_codeunits(text, 5, 9), pa.int32())
                ok = pc.fill_null(pc.equal(pc.add(first, 1), second), False)
                rules.append((pc.invert(ok), c, "invalid_academic_year", "{} is not like 2024-2025"))
                typed[c] = v
        sid = raw.get("student_id", empty)
        rules.insert(0, (pc.invert(pc.is_valid(sid)), "student_id", "missing_student_id",
                         "Student ID is empty"))
        before = pc.fill_null(pc.less(typed["completion_date"], typed["start_date"]), False)
        rules.append((before, "completion_date", "completion_before_start",
                      "completion date is before start date"))
        overall = typed.get("overall_scale_score", pa.nulls(n, pa.int64()))
        rules.append((pc.invert(pc.is_valid(overall)), "overall_scale_score", "missing_scale_score",
                      "Overall Scale Score is empty"))
        if self.domains:
            any_domain = pc.is_valid(raw[self.domains[0]])
            for c in self.domains[1:]:
                any_domain = pc.or_(any_domain, pc.is_valid(raw[c]))
            rules.append((pc.invert(any_domain), None, "missing_domain_scores",
                          f"no {self.subject} domain score or placement"))

        blank: set[int] = set()
        if n and pc.any(pc.invert(pc.is_valid(sid))).as_py():
            empty_row = pc.invert(pc.is_valid(sid))
            for i in range(self.width):
                if not pc.any(empty_row).as_py():
                    break
                col = columns[i] if isinstance(columns[i], pa.Array) else pa.array(columns[i], pa.string())
                empty_row = pc.and_(empty_row, pc.equal(pc.utf8_trim_whitespace(col), ""))
            blank = set(pc.indices_nonzero(empty_row).to_pylist())
        failures: dict[int, tuple[str | None, str]] = dict.fromkeys(blank, (None, "blank"))
        for mask, column, code, message in rules:
            hits = pc.indices_nonzero(mask).to_pylist()
            for row in hits:
                if row not in failures:
                    # the reason stays in clear in ops.load_rejects: it never quotes the value
                    value = raw[column][row].as_py() if column in raw else None
                    shown = "(empty)" if value is None else "the value"
                    failures[row] = (column, f"{code}: {message.format(shown)}")
        for row in blank:
            del failures[row]
        good = None
        if failures or blank:
            flags = [True] * n
            for row in (*failures, *blank):
                flags[row] = False
            good = pa.array(flags, pa.bool_())
        return typed, good, failures

    def convert(self, cells: list[str]) -> list:
        """One row: typed values in ``names`` order, or raise RowError (used by tests and tools)."""
        if len(cells) != self.width:
            raise RowError(None, f"wrong_field_count: {len(cells)} fields, the header has {self.width}"
                                 " (truncated or malformed line)")
        typed, _, failures = self.validate([cells])
        if failures:
            raise RowError(*failures[0])
        return [typed[c][0].as_py() for c in self.names]
