"""Header matching, row rules and file checks of the i-Ready loader, without a database."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import fsspec
import pytest

from dlt_pipelines.iready.files import check_file, discover, read_rows
from dlt_pipelines.iready.layouts import CURRENT_ELA, CURRENT_MATH, LAYOUTS, match_header
from dlt_pipelines.iready.validation import RowError, RowValidator, parse_date
from dlt_pipelines.simulators.iready_exports import StudentRecord, write_exports


def students(n=12):
    return [StudentRecord(str(700 + i), "Ana", "Quill", 3 + i % 5, "101", "North") for i in range(n)]


@pytest.mark.parametrize("layout", ["current", "legacy", "inform", "legacy_2021"])
@pytest.mark.parametrize("subject", ["ela", "math"])
def test_every_known_layout_matches_itself(layout, subject):
    match = match_header(LAYOUTS[layout][subject], subject)
    assert match.ok and match.layout == layout


def test_vintage_names_map_to_the_same_canonical_columns():
    current = match_header(CURRENT_ELA, "ela").canonical
    legacy = match_header(LAYOUTS["legacy"]["ela"], "ela").canonical
    assert current == legacy
    inform = match_header(LAYOUTS["inform"]["math"], "math").canonical
    inform = [c for c in inform if c != "tactile_graphics"]
    assert inform == match_header(CURRENT_MATH, "math").canonical
    assert "percent_progress_to_annual_typical_growth" in current and "most_recent_diagnostic_y_n" in current


def test_header_problems_name_the_columns():
    renamed = ["Overall Score" if h == "Overall Scale Score" else h for h in CURRENT_ELA]
    m = match_header(renamed, "ela")
    assert not m.ok and m.missing == ["Overall Scale Score"] and m.unknown == ["Overall Score"]
    m = match_header(CURRENT_MATH[:-1], "math")
    assert m.missing == ["Projection if Student Achieves Stretch Growth"] and not m.unknown
    m = match_header(CURRENT_ELA + ["Favorite Color"], "ela")
    assert m.unknown == ["Favorite Color"] and not m.missing
    m = match_header(CURRENT_ELA + ["Norming Window", "504 Plan"], "ela")  # district options are fine
    assert m.ok
    m = match_header(CURRENT_ELA, "math")  # an ELA file named as Math
    assert "Phonics Scale Score" in m.unknown and "Geometry Scale Score" in m.missing


def test_date_formats_seen_in_vendor_files():
    assert parse_date("8/5/2024") == parse_date("08-05-2024") == parse_date("2024-08-05") == date(2024, 8, 5)
    assert parse_date("13/40/2024") is None and parse_date("soon") is None


def _row(**changes):
    buf = io.StringIO()
    header = CURRENT_MATH
    values = {h: "" for h in header}
    values.update({"Student ID": "123", "Academic Year": "2024-2025", "Start Date": "9/3/2024",
                   "Completion Date": "9/3/2024", "Overall Scale Score": "480",
                   "Overall Placement": "Early 4",
                   "Overall Relative Placement": "Early On Grade Level", "Geometry Scale Score": "470",
                   "Geometry Placement": "Grade 3", "Percent Progress to Annual Typical Growth (%)": "71",
                   "Baseline Diagnostic (Y/N)": "Y"})
    values.update(changes)
    csv.writer(buf).writerow([values[h] for h in header])
    return next(csv.reader([buf.getvalue()]))


@pytest.fixture
def validator():
    return RowValidator(match_header(CURRENT_MATH, "math").canonical, "math", "2024-2025")


@pytest.mark.parametrize("changes, column, code", [
    ({"Overall Scale Score": "950"}, "overall_scale_score", "scale_score_out_of_range"),
    ({"Overall Scale Score": "abc"}, "overall_scale_score", "scale_score_not_integer"),
    ({"Geometry Scale Score": "99"}, "geometry_scale_score", "scale_score_out_of_range"),
    ({"Overall Scale Score": ""}, "overall_scale_score", "missing_scale_score"),
    ({"Student ID": " "}, "student_id", "missing_student_id"),
    ({"Completion Date": "9/1/2024"}, "completion_date", "completion_before_start"),
    ({"Start Date": "31/31/2024"}, "start_date", "invalid_date"),
    ({"Overall Placement": "Level 99"}, "overall_placement", "unknown_placement"),
    ({"Overall Relative Placement": "Way Above"}, "overall_relative_placement", "unknown_relative_placement"),
    ({"Percent Progress to Annual Typical Growth (%)": "n/a"}, "percent_progress_to_annual_typical_growth",
     "percent_not_numeric"),
    ({"Baseline Diagnostic (Y/N)": "Maybe"}, "baseline_diagnostic_y_n", "invalid_flag"),
    ({"Academic Year": "2024-2026"}, "academic_year", "invalid_academic_year"),
    ({"Geometry Scale Score": "", "Geometry Placement": ""}, None, "missing_domain_scores"),
])
def test_row_rules(validator, changes, column, code):
    with pytest.raises(RowError) as err:
        validator.convert(_row(**changes))
    assert err.value.column == column and err.value.reason.startswith(code + ":")


def test_valid_row_is_typed(validator):
    values = dict(zip(validator.names, validator.convert(_row()), strict=True))
    assert values["overall_scale_score"] == 480 and values["start_date"] == date(2024, 9, 3)
    assert values["percent_progress_to_annual_typical_growth"] == 71.0 and values["student_id"] == "123"
    assert values["number_and_operations_scale_score"] is None
    with pytest.raises(RowError) as err:
        validator.convert(_row()[:-3])
    assert err.value.reason.startswith("wrong_field_count:")


def test_file_checks(tmp_path):
    good = write_exports(students(), tmp_path / "src", seed=3, academic_years=("2024-2025",))
    data = good[0].read_bytes()
    header, _, rest = data.partition(b"\r\n")
    cases = {
        "bom": b"\xef\xbb\xbf" + data,
        "semicolon": data.replace(b",", b";"),
        "latin1": data.replace(b"Quill", "Quíll".encode("latin-1")),
        "empty": b"",
        "header_only": header + b"\r\n",
        "no_header": rest,
        # a quoted line break (Python csv path) and blank lines (skipped, not rejected)
        "multiline": data.replace(b',"', b',"Line\r\nbreak ', 1).replace(
            b"\r\n", b"\r\n\r\n" + b"," * 62 + b"\r\n", 1),
        "blank_lines": header + b"\r\n\r\n" + b"," * 62 + b"\r\n" + rest,
    }
    for name, content in cases.items():
        (tmp_path / "bad" / name).mkdir(parents=True)
        (tmp_path / "bad" / name / "diagnostic_results_ela_CONFIDENTIAL.csv").write_bytes(content)
    (tmp_path / "bad" / "notes.csv").write_text("not an export")
    fs, files, ignored = discover(str(tmp_path / "bad"))
    assert ignored == ["notes.csv"]
    checked = {f.rel.split("/")[0]: check_file(fs, f, str(tmp_path)) for f in files}
    assert checked["bom"].refused is None and checked["bom"].scan.has_bom
    assert checked["semicolon"].refused.startswith("wrong_delimiter: the file is semicolon-separated")
    assert checked["latin1"].refused.startswith("not_utf8:") and "line 2" in checked["latin1"].refused
    assert checked["empty"].refused.startswith("empty_file:")
    assert checked["header_only"].refused.startswith("no_data_rows:")
    no_header = checked["no_header"].refused
    assert no_header.startswith("header_mismatch:") and "is the header row missing?" in no_header
    assert "Quill" not in no_header and "Ana" not in no_header and "700" not in no_header  # no student data
    records = data.count(b"\r\n") - 1
    for case in ("bom", "multiline", "blank_lines"):
        rejects: list = []
        tables = list(read_rows(checked[case], lambda *a, _r=rejects: _r.append(a), chunk_rows=7,
                                loaded_at=datetime.now()))
        assert sum(t.num_rows for t in tables) == records and max(t.num_rows for t in tables) == 7, case
        assert rejects == [], case
        lines = [x for t in tables for x in t.column("source_line").to_pylist()]
        assert lines[-1] == cases[case].count(b"\r\n") - (not cases[case].endswith(b"\r\n")), case
    assert checked["bom"].scan.one_record_per_line and not checked["multiline"].scan.one_record_per_line
    assert checked["blank_lines"].scan.one_record_per_line
    # the first pass counts data records as the parser will: the quoted line break is one record,
    # blank lines and lines of commas none
    assert {c: checked[c].scan.data_records for c in ("bom", "multiline", "blank_lines")} == dict.fromkeys(
        ("bom", "multiline", "blank_lines"), records)


def test_memory_filesystem_is_copied_locally(tmp_path):
    good = write_exports(students(4), tmp_path, seed=3, academic_years=("2024-2025",))
    mem = fsspec.filesystem("memory")
    mem.pipe("/unit-iready/2024-2025/diagnostic_results_math_CONFIDENTIAL.csv", good[1].read_bytes())
    fs, files, _ = discover("memory://unit-iready")
    assert [(f.rel, f.subject, f.folder_year) for f in files] == [
        ("2024-2025/diagnostic_results_math_CONFIDENTIAL.csv", "math", "2024-2025")]
    checked = check_file(fs, files[0], str(tmp_path))
    assert checked.refused is None and checked.local_path.startswith(str(tmp_path))
    mem.rm("/unit-iready", recursive=True)


def test_dry_run_checks_files_and_rows_without_a_database(tmp_path, monkeypatch, capsys):
    from dlt_pipelines.iready import cli

    paths = write_exports(students(), tmp_path / "src", seed=3, academic_years=("2024-2025",))
    rows = paths[0].read_bytes().split(b"\r\n")
    rows[1] = rows[1].replace(b",Y,", b",Maybe,", 1)
    paths[0].write_bytes(b"\r\n".join(rows))
    (tmp_path / "src" / "2024-2025" / "diagnostic_results_math_CONFIDENTIAL.csv").write_bytes(b"")
    monkeypatch.setenv("PGHOST", "unreachable.invalid")  # a dry run must not need the warehouse
    assert cli.main(["--dry-run", "--source-url", str(tmp_path / "src")]) == 0
    out = capsys.readouterr().out
    assert "checked" in out and "1 rejected" in out and "empty_file" in out
    assert cli.main(["--dry-run", "--strict", "--source-url", str(tmp_path / "src")]) == 1
