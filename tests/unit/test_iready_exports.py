"""The i-Ready export writer: real header layout, plausible values, deterministic bytes."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, datetime
from pathlib import Path

import pytest

from dlt_pipelines.simulators.iready_exports import StudentRecord, write_bench_exports, write_exports


def _cols(text: str) -> list[str]:
    return text.split(",")


# Verbatim from the 2024-25 vendor signatures (reference notes §1.2), not from layouts.py.
ELA_HEADER = _cols(
    "Last Name,First Name,Student ID,Student Grade,Academic Year,School,Enrolled,User Name,Sex,"
    "Hispanic or Latino,Race,English Language Learner,Special Education,Economically Disadvantaged,Migrant,"
    "Class(es),Class Teacher(s),Report Group(s),Start Date,Completion Date,Baseline Diagnostic (Y/N),"
    "Most Recent Diagnostic YTD (Y/N),Duration (min),Rush Flag,Read Aloud,Overall Scale Score,"
    "Overall Placement,Overall Relative Placement,Percentile,Grouping,Lexile Measure,Lexile Range,"
    "Phonological Awareness Scale Score,Phonological Awareness Placement,"
    "Phonological Awareness Relative Placement,"
    "Phonics Scale Score,Phonics Placement,Phonics Relative Placement,High-Frequency Words Scale Score,"
    "High-Frequency Words Placement,High-Frequency Words Relative Placement,Vocabulary Scale Score,"
    "Vocabulary Placement,Vocabulary Relative Placement,Comprehension: Overall Scale Score,"
    "Comprehension: Overall Placement,Comprehension: Overall Relative Placement,"
    "Comprehension: Literature Scale Score,Comprehension: Literature Placement,"
    "Comprehension: Literature Relative Placement,Comprehension: Informational Text Scale Score,"
    "Comprehension: Informational Text Placement,Comprehension: Informational Text Relative Placement,"
    "Diagnostic Gain,Annual Typical Growth Measure,Annual Stretch Growth Measure,"
    "Percent Progress to Annual Typical Growth (%),Percent Progress to Annual Stretch Growth (%),"
    "Mid On Grade Level Scale Score,Reading Difficulty Indicator (Y/N),"
    "Proficiency if Student Shows No Additional Growth,Projection if Student Achieves Typical Growth,"
    "Projection if Student Achieves Stretch Growth"
)
MATH_HEADER = ELA_HEADER[:30] + _cols(
    "Quantile Measure,Quantile Range,Number and Operations Scale Score,Number and Operations Placement,"
    "Number and Operations Relative Placement,Algebra and Algebraic Thinking Scale Score,"
    "Algebra and Algebraic Thinking Placement,Algebra and Algebraic Thinking Relative Placement,"
    "Measurement and Data Scale Score,Measurement and Data Placement,Measurement and Data Relative Placement,"
    "Geometry Scale Score,Geometry Placement,Geometry Relative Placement,Diagnostic Language,"
    "Diagnostic Gain,Annual Typical Growth Measure,Annual Stretch Growth Measure,"
    "Percent Progress to Annual Typical Growth (%),"
    "Percent Progress to Annual Stretch Growth (%),Mid On Grade Level Scale Score,"
    "Proficiency if Student Shows No Additional Growth,Projection if Student Achieves Typical Growth,"
    "Projection if Student Achieves Stretch Growth"
)

RELATIVE = {"Mid or Above Grade Level", "Early On Grade Level", "1 Grade Level Below", "2 Grade Levels Below",
            "3 or More Grade Levels Below"}


def roster(n: int = 80) -> list[StudentRecord]:
    grades = ["K", 1, 2, 3, 4, 5, 6, 7, 8]
    return [StudentRecord(str(5000 + i), f"First{i}", f"Last{i % 17}", grades[i % 9],
                          str(101 + i % 2), ["North Elementary", "South Middle"][i % 2]) for i in range(n)]


def read(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> list[Path]:
    return write_exports(roster(), tmp_path_factory.mktemp("ir"), seed=11)


def test_one_folder_per_year_with_the_real_file_names_and_exact_headers(exports):
    assert [p.relative_to(p.parents[1]).as_posix() for p in exports] == [
        "2023-2024/diagnostic_results_ela_CONFIDENTIAL.csv",
        "2023-2024/diagnostic_results_math_CONFIDENTIAL.csv",
        "2024-2025/diagnostic_results_ela_CONFIDENTIAL.csv",
        "2024-2025/diagnostic_results_math_CONFIDENTIAL.csv"]
    for path in exports:
        header, rows = read(path)
        expected = ELA_HEADER if "_ela_" in path.name else MATH_HEADER
        assert header == expected and len(header) == (63 if "_ela_" in path.name else 54)
        assert rows and all(len(r) == len(header) for r in rows)


def test_deterministic_bytes_for_a_seed_and_different_for_another(tmp_path):
    a = write_exports(roster(30), tmp_path / "a", seed=5)
    b = write_exports(roster(30), tmp_path / "b", seed=5)
    c = write_exports(roster(30), tmp_path / "c", seed=6)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in a]
    assert digest == [hashlib.sha256(p.read_bytes()).hexdigest() for p in b]
    assert digest != [hashlib.sha256(p.read_bytes()).hexdigest() for p in c]


def test_values_are_in_their_domains_and_growth_fields_agree(exports):
    for path in exports:
        year = path.parent.name
        start_year = int(year[:4])
        _, rows = read(path)
        for r in rows:
            assert r["Academic Year"] == year
            assert 100 <= int(r["Overall Scale Score"]) <= 800
            assert r["Overall Relative Placement"] in RELATIVE
            start = datetime.strptime(r["Start Date"], "%m/%d/%Y").date()
            done = datetime.strptime(r["Completion Date"], "%m/%d/%Y").date()
            assert date(start_year, 8, 1) <= start <= done <= date(start_year + 1, 6, 30)
            assert done.weekday() < 5
            if r["Diagnostic Gain"] and r["Annual Typical Growth Measure"]:
                gain, typical = int(r["Diagnostic Gain"]), int(r["Annual Typical Growth Measure"])
                assert int(r["Percent Progress to Annual Typical Growth (%)"]) == round(100 * gain / typical)
                assert int(r["Annual Stretch Growth Measure"]) > typical
            assert 1 <= int(r["Percentile"]) <= 99


def test_three_windows_a_year_with_one_baseline_and_one_most_recent(exports):
    _, rows = read(exports[-1])
    by_student: dict[str, list[dict]] = {}
    for r in rows:
        by_student.setdefault(r["Student ID"], []).append(r)
    months = {datetime.strptime(r["Completion Date"], "%m/%d/%Y").month for r in rows}
    assert months & {8, 9} and months & {12, 1} and months & {4, 5}
    assert max(len(v) for v in by_student.values()) == 3
    for sittings in by_student.values():
        assert [s["Baseline Diagnostic (Y/N)"] for s in sittings].count("Y") == 1
        assert [s["Most Recent Diagnostic YTD (Y/N)"] for s in sittings].count("Y") == 1
        assert sittings[0]["Baseline Diagnostic (Y/N)"] == "Y" and sittings[0]["Diagnostic Gain"] == ""


def test_some_students_unknown_to_the_sis_and_earlier_grade_in_the_historical_year(exports):
    known = {s.student_id: s for s in roster()}
    _, current = read(exports[2])
    _, history = read(exports[0])
    unknown = {r["Student ID"] for r in current} - set(known)
    assert 1 <= len(unknown) <= 5
    def number(grade) -> int:
        return 0 if str(grade) == "K" else int(grade)

    for r in history:
        student = known.get(r["Student ID"])
        if student is not None:
            assert number(r["Student Grade"]) == number(student.grade) - 1
    # kindergarteners of the current year were not tested the year before
    assert not {s.student_id for s in roster() if s.grade == "K"} & {r["Student ID"] for r in history}


def test_legacy_and_inform_layouts_rename_files_and_columns(tmp_path):
    legacy = write_exports(roster(10), tmp_path / "l", seed=1, academic_years=("2024-2025",), layout="legacy")
    header, _ = read(legacy[0])
    assert "Most Recent Diagnostic (Y/N)" in header and "Reading Comprehension: Overall Scale Score" in header
    assert "Diagnostic used to establish Growth Measures (Y/N)" in header
    inform = write_exports(roster(10), tmp_path / "i", seed=1, academic_years=("2026-2027",), layout="inform")
    assert [p.name for p in inform] == ["i-ready_inform_results_reading_english_CONFIDENTIAL.csv",
                                        "i-ready_inform_results_math_CONFIDENTIAL.csv"]
    header, rows = read(inform[1])
    assert {"Baseline Assessment (Y/N)", "Most Recent Assessment YTD (Y/N)", "Assessment Gain",
            "Assessment Language", "Tactile Graphics"} <= set(header)
    assert "Diagnostic Gain" not in header and rows[0]["Academic Year"] == "2026-2027"


def test_bench_writer_streams_a_large_pair(tmp_path):
    paths = write_bench_exports(tmp_path, rows=3000, seed=2)
    total = sum(len(read(p)[1]) for p in paths)
    assert 3000 <= total < 3010
    assert read(paths[0])[0] == ELA_HEADER and read(paths[1])[0] == MATH_HEADER


def test_district_exports_use_the_district_roster_and_school_year(tmp_path):
    from dlt_pipelines.simulators.district import District, DistrictConfig
    from dlt_pipelines.simulators.iready_exports import write_district_exports

    district = District(DistrictConfig(seed=3, n_schools=1, students_per_school=40))
    paths = write_district_exports(district, tmp_path, seed=3)
    start = district.config.start_date.year
    assert [p.parent.name for p in paths] == [f"{start - 1}-{start}"] * 2 + [f"{start}-{start + 1}"] * 2
    ids = {str(s.student_id) for s in district.students}
    schools = {s.name for s in district.schools}
    _, rows = read(paths[2])
    tested = {r["Student ID"] for r in rows}
    assert len(tested & ids) >= 0.8 * len([s for s in district.students if 0 <= int(s.grade) <= 12])
    assert 1 <= len(tested - ids) <= 3
    assert {r["School"] for r in rows} <= schools
