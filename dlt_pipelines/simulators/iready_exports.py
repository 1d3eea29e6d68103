"""Synthetic i-Ready "Diagnostic Results" exports in the vendor's real header layout.

One folder per academic year holding ``diagnostic_results_ela_CONFIDENTIAL.csv`` (63 columns)
and ``diagnostic_results_math_CONFIDENTIAL.csv`` (54 columns): one row per completed
diagnostic, three windows a year (Fall/BOY, Winter/MOY, Spring/EOY), with scale scores,
placements, domain scores, growth measures and percent progress that hang together.
Layouts ``legacy`` (older column names) and ``inform`` (2026-27 "i-Ready Inform" file and
column names) are available for testing the loader. Output is byte-for-byte deterministic
for a seed. All people are fictional; a few students per file are unknown to the SIS, as in
real districts (students tested before they are enrolled, typos in IDs).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dlt_pipelines.iready.layouts import (
    ELA_DOMAINS,
    LAYOUTS,
    MATH_DOMAINS,
    canonical_name,
    slug,
)

from . import names

FILE_NAMES = {
    "current": {"ela": "diagnostic_results_ela_CONFIDENTIAL.csv",
                "math": "diagnostic_results_math_CONFIDENTIAL.csv"},
    "legacy": {"ela": "diagnostic_results_ela_CONFIDENTIAL.csv",
               "math": "diagnostic_results_math_CONFIDENTIAL.csv"},
    "inform": {"ela": "i-ready_inform_results_reading_english_CONFIDENTIAL.csv",
               "math": "i-ready_inform_results_math_CONFIDENTIAL.csv"},
}

# Synthetic (not vendor) scale-score anchors by grade K..12: the "mid on grade level" score
# and the annual typical growth for a student placed on grade (grades 9-12 have no growth
# measures in real exports).
MID_ON_GRADE = {
    "ela": [362, 434, 489, 511, 543, 577, 600, 616, 627, 637, 643, 648, 652],
    "math": [362, 418, 441, 464, 485, 499, 511, 527, 542, 555, 567, 578, 588],
}
TYPICAL_GROWTH = {
    "ela": [46, 46, 33, 24, 18, 15, 12, 11, 9],
    "math": [38, 34, 28, 26, 22, 19, 17, 14, 13],
}
RELATIVE = ["3 or More Grade Levels Below", "2 Grade Levels Below", "1 Grade Level Below",
            "Early On Grade Level", "Mid or Above Grade Level"]
STRETCH_FACTOR = {RELATIVE[0]: 2.8, RELATIVE[1]: 2.3, RELATIVE[2]: 1.9, RELATIVE[3]: 1.6, RELATIVE[4]: 1.3}
WINDOWS = (  # name, (month, day) of the window's first and last testing day, year offset
    ("BOY", (8, 19), (9, 27), 0),
    ("MOY", (12, 2), (1, 24), 0),
    ("EOY", (4, 21), (5, 30), 1),
)
RACES = ("White", "Asian", "Black or African American", "Two or More Races",
         "American Indian or Alaska Native", "Native Hawaiian or Other Pacific Islander")


@dataclass(frozen=True)
class StudentRecord:
    """What the writer needs about a student (the district's students have these fields)."""

    student_id: str
    first_name: str
    last_name: str
    grade: int | str
    school_code: str
    school_name: str


def _grade_number(grade: Any) -> int | None:
    """K=0 .. 12; None for grades i-Ready does not test (TK, pre-school, adult)."""
    if isinstance(grade, int):
        return grade if 0 <= grade <= 12 else None
    text = str(grade).strip().upper()
    if text in ("K", "KG", "0"):
        return 0
    return int(text) if text.isdigit() and 0 <= int(text) <= 12 else None


def _grade_label(grade: int) -> str:
    return "K" if grade == 0 else str(grade)


def _relative(score: int, grade: int, subject: str) -> str:
    diff = score - MID_ON_GRADE[subject][grade]
    if diff >= 0:
        level = 4
    elif diff >= -25:
        level = 3
    elif diff >= -60:
        level = 2
    elif diff >= -100:
        level = 1
    else:
        level = 0
    floor = {0: 2, 1: 1, 2: 1}.get(grade, 0)  # K has no 2-below, grades 1-2 no 3-or-more-below
    return RELATIVE[max(level, floor)]


def _placement(score: int, grade: int, subject: str, relative: str) -> str:
    if relative in RELATIVE[3:]:
        if relative == RELATIVE[3]:
            part = "Early"
        else:
            part = "Late" if score - MID_ON_GRADE[subject][grade] > 20 else "Mid"
        return f"{part} {_grade_label(grade)}"
    below = 3 - RELATIVE.index(relative)  # 1, 2 or 3 grades below
    placed = grade - below
    return "Emerging K" if placed < 0 else f"Grade {_grade_label(placed)}"


def _clip(value: float) -> int:
    return int(min(800, max(100, round(value))))


def _weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _fmt(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _window_dates(rng: random.Random, start_year: int, window: tuple) -> tuple[date, date]:
    _, (m1, d1), (m2, d2), offset = window
    first = date(start_year + offset, m1, d1)
    last = date(start_year + (offset if m2 >= m1 else offset + 1), m2, d2)
    completion = _weekday(first + timedelta(days=rng.randrange((last - first).days + 1)))
    start = completion - timedelta(days=rng.choice((0, 0, 0, 1, 2)))
    return start, completion


def _student_traits(student: Any, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:traits:{student.student_id}")
    gender = getattr(student, "gender", None) or rng.choice(("F", "M"))
    return {
        "ability": rng.gauss(-12, 38),
        "growth": rng.uniform(0.55, 1.45),
        "sex": {"F": "Female", "M": "Male"}.get(str(gender)[:1].upper(), "Not Specified"),
        "hispanic": rng.choice(("Yes", "No", "No")),
        "race": rng.choice(RACES),
        "ell": "Yes" if rng.random() < 0.18 else "No",
        "sped": "Yes" if rng.random() < 0.12 else "No",
        "econ": "Yes" if rng.random() < 0.55 else "No",
        "migrant": "Yes" if rng.random() < 0.02 else "No",
        "teacher": f"{rng.choice(names.LAST_NAMES)}, {rng.choice(names.FIRST_NAMES_F + names.FIRST_NAMES_M)}",
        "room": rng.randrange(1, 40),
    }


def _measure(subject: str, score: int) -> tuple[str, str]:
    if subject == "ela":
        lex = round((score - 380) * 4.2 / 5) * 5
        if lex <= 0:
            return f"BR{-lex or 5}L", f"BR{-lex + 100}L-BR{max(5, -lex - 50)}L"
        return f"{lex}L", f"{max(5, lex - 100)}L-{lex + 50}L"
    qnt = round((score - 400) * 3.5 / 5) * 5
    if qnt <= 0:
        return f"EM{-qnt or 5}Q", f"EM{-qnt + 50}Q-EM{max(5, -qnt - 50)}Q"
    return f"{qnt}Q", f"{max(5, qnt - 50)}Q-{qnt + 50}Q"


def _percentile(score: int, grade: int, subject: str, window: int) -> int:
    z = (score - MID_ON_GRADE[subject][grade] + 15 - 10 * window) / 40
    return max(1, min(99, round(50 * (1 + math.erf(z / math.sqrt(2))))))


def diagnostic_rows(student: Any, subject: str, academic_year: str, grade: int, seed: int,
                    traits: dict[str, Any]) -> list[dict[str, str]]:
    """The canonical rows (canonical column -> cell text) of one student, subject and year."""
    start_year = int(academic_year[:4])
    rng = random.Random(f"{seed}:{student.student_id}:{academic_year}:{subject}")
    mid = MID_ON_GRADE[subject][grade]
    domains = ELA_DOMAINS if subject == "ela" else MATH_DOMAINS
    taken = [w for w in range(3) if rng.random() > (0.04 if w == 0 else 0.09)]
    if not taken:
        return []
    boy_score = _clip(mid - 22 + traits["ability"] + rng.gauss(0, 12))
    boy_relative = _relative(boy_score, grade, subject)
    if grade <= 8:
        adjust = {0: 6, 1: 3, 2: 0, 3: -2, 4: -4}[RELATIVE.index(boy_relative)]
        typical = TYPICAL_GROWTH[subject][grade] + adjust
        stretch = round(typical * STRETCH_FACTOR[boy_relative])
    else:
        typical = stretch = None
    annual = (typical or 10) * traits["growth"]
    rows: list[dict[str, str]] = []
    baseline_score: int | None = None
    for n, w in enumerate(taken):
        start, completion = _window_dates(rng, start_year, WINDOWS[w])
        share = (0.0, 0.45, 1.0)[w]
        score = boy_score if w == 0 else _clip(boy_score + annual * share + rng.gauss(0, 9))
        relative = _relative(score, grade, subject)
        row: dict[str, str] = {
            "last_name": student.last_name, "first_name": student.first_name,
            "student_id": str(student.student_id), "student_grade": _grade_label(grade),
            "academic_year": academic_year, "school": student.school_name, "enrolled": "Enrolled",
            "user_name": f"{student.first_name[:1]}{student.last_name}{str(student.student_id)[-3:]}".lower(),
            "sex": traits["sex"], "hispanic_or_latino": traits["hispanic"], "race": traits["race"],
            "english_language_learner": traits["ell"], "special_education": traits["sped"],
            "economically_disadvantaged": traits["econ"], "migrant": traits["migrant"],
            "class_es": f"Grade {_grade_label(grade)} - Room {traits['room']}",
            "class_teacher_s": traits["teacher"], "report_group_s": "",
            "start_date": _fmt(start), "completion_date": _fmt(completion),
            "baseline_diagnostic_y_n": "Y" if n == 0 else "N",
            "most_recent_diagnostic_y_n": "Y" if n == len(taken) - 1 else "N",
            "duration_min": str(rng.randint(24, 95)),
            "rush_flag": "" if rng.random() > 0.03 else "Y",
            "read_aloud": "Off", "tactile_graphics": "Off",
            "overall_scale_score": str(score),
            "overall_placement": _placement(score, grade, subject, relative),
            "overall_relative_placement": relative,
            "percentile": str(_percentile(score, grade, subject, w)),
            "grouping": str(min(5, max(1, 5 - RELATIVE.index(relative)))) if grade <= 8 else "",
            "mid_on_grade_level_scale_score": str(mid),
            "diagnostic_language": "English" if rng.random() > 0.05 else "Spanish",
        }
        measure, measure_range = _measure(subject, score)
        key = "lexile" if subject == "ela" else "quantile"
        row[f"{key}_measure"], row[f"{key}_range"] = measure, measure_range
        for domain in domains:
            prefix = slug(domain)
            d_score = _clip(score + rng.gauss(0, 18))
            if subject == "ela" and domain in ELA_DOMAINS[:3] and grade >= 4 and d_score >= mid:
                # foundational domains are "tested out" above grade 3
                row[f"{prefix}_scale_score"] = ""
                row[f"{prefix}_placement"] = "Tested Out"
                row[f"{prefix}_relative_placement"] = "Mid or Above Grade Level"
                continue
            d_rel = _relative(d_score, grade, subject)
            row[f"{prefix}_scale_score"] = str(d_score)
            row[f"{prefix}_placement"] = _placement(d_score, grade, subject, d_rel)
            row[f"{prefix}_relative_placement"] = d_rel
        if baseline_score is None:
            baseline_score = score
            row["diagnostic_gain"] = ""
            row["percent_progress_to_annual_typical_growth"] = ""
            row["percent_progress_to_annual_stretch_growth"] = ""
        else:
            gain = score - baseline_score
            row["diagnostic_gain"] = str(gain)
            typical_pct = str(round(100 * gain / typical)) if typical else ""
            stretch_pct = str(round(100 * gain / stretch)) if stretch else ""
            row["percent_progress_to_annual_typical_growth"] = typical_pct
            row["percent_progress_to_annual_stretch_growth"] = stretch_pct
        row["annual_typical_growth_measure"] = str(typical) if typical else ""
        row["annual_stretch_growth_measure"] = str(stretch) if stretch else ""
        if subject == "ela":
            row["reading_difficulty_indicator_y_n"] = (
                ("Y" if relative in RELATIVE[:2] else "N") if grade <= 3 else "Not Applicable")
        if 3 <= grade <= 8:
            level = min(4, max(1, RELATIVE.index(relative)))
            row["proficiency_if_student_shows_no_additional_growth"] = f"Level {level}"
            row["projection_if_student_achieves_typical_growth"] = f"Level {min(4, level + (w < 2))}"
            row["projection_if_student_achieves_stretch_growth"] = f"Level {min(4, level + 1)}"
        rows.append(row)
    return rows


def _students_for_year(students: list[Any], years_back: int) -> Iterator[tuple[Any, int]]:
    for student in students:
        grade = _grade_number(student.grade)
        if grade is not None and grade - years_back >= 0:
            yield student, grade - years_back


def _unknown_students(students: list[Any], seed: int, academic_year: str) -> list[StudentRecord]:
    """Students the SIS does not know: 1 per 200 students, at least 2 per year."""
    rng = random.Random(f"{seed}:unknown:{academic_year}")
    schools = sorted({(str(s.school_code), s.school_name) for s in students}) or [("0", "Unknown School")]
    out = []
    for i in range(max(2, len(students) // 200)):
        code, name = rng.choice(schools)
        out.append(StudentRecord(
            student_id=f"99{rng.randrange(10**5, 10**6)}{i % 10}", first_name=rng.choice(names.FIRST_NAMES_F),
            last_name=rng.choice(names.LAST_NAMES), grade=rng.randint(0, 8), school_code=code,
            school_name=name))
    return out


class _Writer:
    """Streams canonical rows into a CSV file in one layout's header order."""

    def __init__(self, path: Path, layout: str, subject: str):
        self.headers = LAYOUTS[layout][subject]
        self.keys = [canonical_name(h) for h in self.headers]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.handle, lineterminator="\r\n")
        self.csv.writerow(self.headers)
        self.rows = 0

    def write(self, row: dict[str, str]) -> None:
        self.csv.writerow([row.get(k, "") for k in self.keys])
        self.rows += 1

    def close(self) -> None:
        self.handle.close()


def write_exports(students: Iterable[Any], out_dir: str | Path, *, seed: int,
                  academic_years: Iterable[str] = ("2023-2024", "2024-2025"),
                  layout: str = "current") -> list[Path]:
    """Write one ELA and one Math export per academic year under ``out_dir/<year>/``.

    ``students`` carry ``student_id, first_name, last_name, grade, school_code, school_name``
    with ``grade`` their grade in the latest academic year (earlier years use the grade
    they were in then). Returns the files written, in a stable order.
    """
    if layout not in FILE_NAMES:
        raise ValueError(f"layout must be one of {sorted(FILE_NAMES)}, got {layout!r}")
    roster = sorted(students, key=lambda s: (s.school_name, s.last_name, s.first_name, str(s.student_id)))
    years = sorted(academic_years)
    out_dir = Path(out_dir)
    traits = {s.student_id: _student_traits(s, seed) for s in roster}
    paths: list[Path] = []
    for year in years:
        years_back = int(years[-1][:4]) - int(year[:4])
        extra = _unknown_students(roster, seed, year)
        for subject in ("ela", "math"):
            path = out_dir / year / FILE_NAMES[layout][subject]
            writer = _Writer(path, layout, subject)
            try:
                for student, grade in _students_for_year(roster, years_back):
                    student_traits = traits[student.student_id]
                    for row in diagnostic_rows(student, subject, year, grade, seed, student_traits):
                        writer.write(row)
                for student in extra:
                    for row in diagnostic_rows(student, subject, year, int(student.grade), seed,
                                               _student_traits(student, seed)):
                        writer.write(row)
            finally:
                writer.close()
            paths.append(path)
    return paths


def district_students(district: Any) -> list[StudentRecord]:
    """Adapt the simulated district's students (school name from its schools)."""
    schools = {str(s.school_code): getattr(s, "name", None) or getattr(s, "school_name", "")
               for s in district.schools}
    return [StudentRecord(str(s.student_id), s.first_name, s.last_name, s.grade, str(s.school_code),
                          schools.get(str(s.school_code), str(s.school_code)))
            for s in district.students]


def write_district_exports(district: Any, out_dir: str | Path, seed: int = 42, *,
                           academic_years: Iterable[str] | None = None,
                           layout: str = "current") -> list[Path]:
    """Exports for the simulated district: the current year and the one before."""
    if academic_years is None:
        start = getattr(getattr(district, "config", None), "start_date", None)
        year = int(str(start)[:4]) if start else 2024
        academic_years = (f"{year - 1}-{year}", f"{year}-{year + 1}")
    return write_exports(district_students(district), out_dir, seed=seed,
                         academic_years=academic_years, layout=layout)


def write_bench_exports(out_dir: str | Path, rows: int = 200_000, *, seed: int = 7,
                        academic_year: str = "2024-2025") -> list[Path]:
    """A large export pair (about ``rows`` rows in total) for the benchmark, streamed to disk:
    students are made up on the fly, nothing is held in memory."""
    out_dir = Path(out_dir) / academic_year
    writers = {s: _Writer(out_dir / FILE_NAMES["current"][s], "current", s) for s in ("ela", "math")}
    rng = random.Random(seed)
    n = 0
    try:
        while sum(w.rows for w in writers.values()) < rows:
            n += 1
            student = StudentRecord(
                student_id=str(100000 + n), first_name=rng.choice(names.FIRST_NAMES_F + names.FIRST_NAMES_M),
                last_name=rng.choice(names.LAST_NAMES), grade=rng.randint(0, 8),
                school_code=str(100 + n % 20), school_name=names.school_name(n % 20))
            traits = _student_traits(student, seed)
            for subject, writer in writers.items():
                for row in diagnostic_rows(student, subject, academic_year, int(student.grade), seed, traits):
                    writer.write(row)
    finally:
        for w in writers.values():
            w.close()
    return [out_dir / FILE_NAMES["current"][s] for s in ("ela", "math")]
