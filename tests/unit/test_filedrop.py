"""The shared file path and the Aeries CSV layouts, on real files in a temporary folder: the first
pass's refusals and record count, export dates from names, header variants, cell typing."""

from __future__ import annotations

from datetime import date

import fsspec
import pytest

from dlt_pipelines.aeries_files.layouts import ATT, STU, classify, match_header
from dlt_pipelines.aeries_files.rows import RowError, convert, parse_date
from dlt_pipelines.common import filedrop


def _scan(tmp_path, content: bytes, name: str = "ATT.csv") -> filedrop.Scan:
    path = tmp_path / name
    path.write_bytes(content)
    fs = fsspec.filesystem("file")
    f = filedrop.ExportFile(str(path), name, "ATT", None, path.stat().st_size, filedrop._mtime({}))
    return filedrop.scan(fs, f, str(tmp_path), "test")


def test_scan_counts_records_like_a_csv_parser(tmp_path):
    scanned = _scan(tmp_path, b'a,b\r\n1,"x\r\ny"\r\n\r\n,,\r\n" ",""\r\n2,3\r\n3,"he said ""hi"""\r\n')
    assert scanned.refused is None and scanned.header == ["a", "b"]
    assert scanned.data_records == 3 and not scanned.one_record_per_line


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty_file"),
    (b" \r\n", "empty_file"),
    ("a,b\r\n1,2\r\n".encode("utf-16"), "UTF-16"),
    (b"a\x00,b\r\n1,2\r\n", "NUL"),
    (b"a,b\r\n1,\xf1o\r\n", "line 2"),
    (b'a,b\r\n1,2\r\n3,"4\r\n5,6\r\n', "unclosed_quote: a quoted field opened on line 3"),
    (b"a;b;c\r\n1;2;3\r\n", "wrong_delimiter"),
    (b"a,b\r\n", "no_data_rows"),
])
def test_scan_refuses_unreadable_files(tmp_path, content, reason):
    assert reason in (_scan(tmp_path, content).refused or "")


def test_oversized_records_are_marked_and_read_by_the_python_reader(tmp_path):
    big = b"x" * (filedrop.MAX_RECORD_BYTES + 10)
    scanned = _scan(tmp_path, b"a,b\r\n1,2\r\n3," + big + b"\r\n4,5\r\n")
    assert scanned.refused is None and scanned.oversized == {3} and scanned.data_records == 3
    rejects: list = []
    chunks = list(filedrop.csv_chunks(scanned, ["a", "b"], 10, lambda *a: rejects.append(a)))
    assert [line for _, lines in chunks for line in lines] == [2, 4]
    assert [(r[0], r[2].split(":")[0]) for r in rejects] == [(3, "line_too_long")]


def test_export_dates_come_from_names():
    assert filedrop.name_date("2025-2026/ATT_101_20250613.csv") == date(2025, 6, 13)
    assert filedrop.name_date("drop/2025-06-01/diagnostic_results_ela_2025_06_20.csv") == date(2025, 6, 20)
    assert filedrop.name_date("2024-2025/diagnostic_results_ela.csv") is None
    assert filedrop.name_date("ATT_20251399.csv") is None


def test_aeries_file_names_and_header_variants():
    assert classify("ATT_101_20250613.csv") == "ATT" and classify("attendance_history_summary.csv") == "AHS"
    assert classify("Students-2025.CSV") == "STU" and classify("notes.csv") is None
    for cells, layout in ((["SC", "ID", "DT", "AL", "A1", "SE1"], "codes"),
                          (["School Code", "Student ID", "Date", "All Day", "Period 1"], "labels"),
                          (["SchoolCode", "StudentID", "CalendarDate", "AllDayAttendanceCode"], "api"),
                          (["att.sc", "att.id", "ATT.DT", "att.al", "att.a0"], "codes")):
        match = match_header(cells, ATT)
        assert match.ok and match.layout == layout, (cells, match)
    bad = match_header(["SC", "ID", "AL", "A1", "A1", "Locker"], ATT)
    assert bad.missing == ["DT"] and bad.duplicated == ["A1"] and bad.unknown == ["Locker"]
    assert "header row missing" in match_header(["101", "10100001", "8/15/2024", "A"], ATT).problem()


def test_cells_are_typed_or_rejected():
    fields = {f.api: f for f in STU.fields}
    assert convert(fields["Grade"], "+7") == 7 and convert(fields["Grade"], "7.0") == 7
    assert convert(fields["Birthdate"], "8/15/2012") == date(2012, 8, 15)
    assert convert(fields["Birthdate"], "2012-08-15T00:00:00") == date(2012, 8, 15)
    assert convert(fields["InactiveStatusCode"], "") == "" and convert(fields["SchoolLeaveDate"], "") is None
    bad = (("Grade", "99999999999999999999", "not_an_integer"), ("Grade", "1e400", "not_an_integer"),
           ("Grade", "19", "out_of_range"), ("Birthdate", "2/30/2012", "invalid_date"),
           ("LastName", "", "missing_value"), ("LastName", "A\x00", "nul_byte"),
           ("Gender", "MALE-FEMALE", "invalid_code"))
    for field, value, reason in bad:
        with pytest.raises(RowError) as err:
            convert(fields[field], value)
        assert err.value.reason.startswith(reason), (field, value, err.value.reason)
    assert parse_date("20240815") == date(2024, 8, 15) and parse_date("1/1/1800") is None
