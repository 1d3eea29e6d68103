"""Aeries CSV exports end to end against a real Postgres: the simulator's exports load completely
in every header layout; every kind of bad file is refused whole with a reason, or loads its valid
rows and rejects the others with file/line/column/reason, while the good files beside it load;
which version wins; the lock; the CLI's exit codes; no student data in the logs."""

from __future__ import annotations

import csv
import io
import logging
import shutil
from datetime import date
from pathlib import Path

import pytest

from dlt_pipelines import cli as dispatcher
from dlt_pipelines.aeries_files.pipeline import Options, run
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.logs import JsonFormatter
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.aeries_exports import write_aeries_exports
from dlt_pipelines.simulators.district import District, DistrictConfig

pytestmark = pytest.mark.integration

TODAY = date(2024, 9, 13)


def query(sql: str, params=None) -> list[tuple]:
    with wh.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n", delimiter=delimiter).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    district = District(DistrictConfig(seed=3, n_schools=2, students_per_school=20,
                                       start_date=date(2024, 8, 15), end_date=date(2025, 6, 12)))
    out = tmp_path_factory.mktemp("aeries_exports")
    sim = AeriesSimulator(district, today=TODAY)
    write_aeries_exports(sim, out / "codes", layout="codes")
    write_aeries_exports(sim, out / "api", layout="api", sections=False)
    return out


def test_every_layout_loads_completely(fresh_db, exports):
    report = run(Options(str(exports / "codes")))
    assert report.count("refused") == 0 and report.rows_rejected == 0
    expected = {p.name: len(read_csv(p)) - 1 for p in (exports / "codes").glob("*.csv")}
    assert {f.path: f.rows_loaded for f in report.files} == expected
    registry = query("select count(*), sum(data_records - rows_loaded - rows_rejected) from"
                     " raw_aeries.export_files where status = 'loaded'")
    assert registry == [(len(expected), 0)]
    n_days = sum(v for k, v in expected.items() if k.startswith("ATT"))
    assert query("select count(*) from raw_aeries.attendance_days") == [(n_days,)]
    assert query("select count(*) from raw_aeries.attendance_periods where section_number is null") == [(0,)]
    students = sum(v for k, v in expected.items() if k.startswith("STU"))
    assert query("select count(*), count(birthdate), min(grade) from raw_aeries.students")[0][:2] == (
        students, students)
    # the API field names (another header layout, no section columns) load into the same rows
    again = run(Options(str(exports / "api"), force=True))
    assert again.count("loaded") == len(expected) and again.rows_rejected == 0
    assert query("select count(*) from raw_aeries.attendance_days") == [(n_days,)]
    assert query("select count(*) from raw_aeries.students") == [(students,)]
    assert query("select count(*) from raw_aeries.attendance_periods"
                 " where section_number is not null") == [(0,)]
    # unchanged files are skipped
    third = run(Options(str(exports / "api")))
    assert third.count("unchanged") == len(expected)


def _cases(good: Path, root: Path) -> dict:
    """One folder per kind of bad file; returns what to expect of each."""
    att = next(good.glob("ATT_101_*.csv"))
    stu, abs_, enr = good / "STU_101.csv", good / "ABS_101.csv", good / "ENR_101.csv"
    att_rows, stu_rows = read_csv(att), read_csv(stu)
    raw_att = att.read_bytes()
    refused, rejects = {}, {}

    def put(case: str, name: str, rows=None, data: bytes | None = None, **kw) -> Path:
        path = root / case / name
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return path
        return write_csv(path, rows, **kw)

    def edited(rows, line: int, column: str, value: str):
        out = [list(r) for r in rows]
        out[line - 1][rows[0].index(column)] = value
        return out

    put("empty", att.name, data=b"")
    refused["empty"] = ["empty_file"]
    put("header_only", att.name, att_rows[:1])
    refused["header_only"] = ["no_data_rows"]
    put("semicolons", att.name, att_rows, delimiter=";")
    refused["semicolons"] = ["wrong_delimiter", "semicolon"]
    put("latin1", stu.name, edited(stu_rows, 4, "LN", "Muñoz"), encoding="latin-1")
    refused["latin1"] = ["not_utf8", "line 4"]
    put("utf16", att.name, data=raw_att.decode().encode("utf-16"))
    refused["utf16"] = ["not_utf8", "UTF-16"]
    i_dt = att_rows[0].index("DT")
    put("missing_column", att.name, [r[:i_dt] + r[i_dt + 1:] for r in att_rows])
    refused["missing_column"] = ["header_mismatch", "missing columns: 'DT'"]
    put("unknown_column", stu.name, [r + (["Locker"] if i == 0 else ["12"]) for i, r in enumerate(stu_rows)])
    refused["unknown_column"] = ["header_mismatch", "unknown columns: 'Locker'"]
    dup = [list(r) for r in att_rows]
    dup[0][dup[0].index("A9")] = "A1"
    put("duplicated_column", att.name, dup)
    refused["duplicated_column"] = ["header_mismatch", "duplicated columns: 'A1'"]
    put("header_missing", stu.name, stu_rows[1:])
    refused["header_missing"] = ["header_mismatch", "is the header row missing"]
    lines = raw_att.split(b"\r\n")
    lines[5] = lines[5].replace(b",", b',"', 1)
    put("unclosed_quote", att.name, data=b"\r\n".join(lines))
    refused["unclosed_quote"] = ["unclosed_quote", "line 6"]

    put("not_a_number", att.name, edited(att_rows, 3, "ID", "10100x01"))
    rejects["not_a_number"] = [(3, "student_id", "not_an_integer")]
    put("overflow", att.name, edited(att_rows, 4, "SC", "99999999999999999999"))
    rejects["overflow"] = [(4, "school_code", "not_an_integer")]
    put("bad_date", att.name, edited(att_rows, 2, "DT", "13/45/2024"))
    rejects["bad_date"] = [(2, "calendar_date", "invalid_date")]
    put("nul_byte", att.name, edited(att_rows, 3, "A1", "A\x00"))
    rejects["nul_byte"] = [(3, "period1", "nul_byte")]
    put("code_too_long", att.name, edited(att_rows, 5, "AL", "ABSENT-ALL-DAY"))
    rejects["code_too_long"] = [(5, "all_day_attendance_code", "invalid_code")]
    put("line_over_1mb", stu.name, edited(stu_rows, 3, "MN", "x" * 1_100_000))
    rejects["line_over_1mb"] = [(3, None, "line_too_long")]
    put("truncated_last_line", att.name, data=raw_att.rstrip(b"\r\n")[:-12])
    rejects["truncated_last_line"] = [(len(att_rows), None, "wrong_field_count")]
    repeated = [list(r) for r in att_rows] + [list(att_rows[2])]
    put("duplicate_student_day", att.name, repeated)
    rejects["duplicate_student_day"] = [(len(repeated), None, "duplicate_student_day")]
    put("grade_out_of_range", stu.name, edited(edited(stu_rows, 2, "GR", "99"), 5, "GR", "1e400"))
    rejects["grade_out_of_range"] = [(2, "grade", "out_of_range"), (5, "grade", "not_an_integer")]
    abs_rows = read_csv(abs_)
    put("bad_flag", abs_.name, edited(edited(abs_rows, 2, "AD", "maybe"), 3, "TY", "0"))
    rejects["bad_flag"] = [(2, "counts_for_ada", "invalid_flag"), (3, "type_code", "out_of_range")]
    put("missing_value", enr.name, edited(read_csv(enr), 4, "ED", ""))
    rejects["missing_value"] = [(4, "enter_date", "missing_value")]
    put("control_characters", stu.name, edited(stu_rows, 6, "LN", "Smith\x07"))
    rejects["control_characters"] = [(6, "last_name", "invalid_text")]
    put("bom_crlf", att.name, data=b"\xef\xbb\xbf" + raw_att)
    rejects["bom_crlf"] = []
    put("plus_sign", stu.name, edited(stu_rows, 2, "GR", "+7"))
    rejects["plus_sign"] = []
    multi = edited(stu_rows, 3, "MN", "Ann\nMarie")
    put("line_break_in_quotes", stu.name, multi)
    rejects["line_break_in_quotes"] = []
    return {"refused": refused, "rejects": rejects}


def test_every_kind_of_bad_file_is_refused_or_accounted_for_while_good_files_load(fresh_db, exports,
                                                                                   tmp_path):
    root = tmp_path / "drop"
    shutil.copytree(exports / "codes", root / "good")
    expect = _cases(exports / "codes", root)
    assert len(expect["refused"]) + len(expect["rejects"]) >= 20
    report = run(Options(str(root)))
    status = {f.path.split("/")[0] + "/" + f.path.split("/")[-1]: f for f in report.files}
    registry = {r[0]: r[1:] for r in query("select path, status, message, data_records, rows_loaded,"
                                           " rows_rejected from raw_aeries.export_files")}
    assert all(f.status == "loaded" for p, f in status.items() if p.startswith("good/")), report
    for case, fragments in expect["refused"].items():
        (path,) = [p for p in registry if p.startswith(case + "/")]
        assert registry[path][0] == "refused", (case, registry[path])
        for fragment in fragments:
            assert fragment in registry[path][1], (case, registry[path][1])
        got = query("select line_number, reason from ops.load_rejects where run_id = %s and file_name = %s",
                    (report.run_id, path))
        assert [r[0] for r in got] == [1] and fragments[0] in got[0][1], case
    for case, rejects in expect["rejects"].items():
        (path,) = [p for p in registry if p.startswith(case + "/")]
        status_, message, records, loaded, rejected = registry[path]
        assert status_ == "loaded", (case, message)
        assert loaded + rejected == records and rejected == len(rejects), (case, records, loaded, rejected)
        got = query("select line_number, column_name, split_part(reason, ':', 1) from ops.load_rejects"
                    " where run_id = %s and file_name = %s order by line_number", (report.run_id, path))
        assert got == rejects, case
    assert query("select status from ops.sync_runs where run_id = %s", (report.run_id,)) == [("sync_ok",)]


def test_which_export_wins_and_mass_deletes_are_held_back(fresh_db, exports, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(exports / "codes", src)
    run(Options(str(src)))
    att = next(src.glob("ATT_102_*.csv"))
    rows = read_csv(att)
    held = query("select count(*) from raw_aeries.attendance_days where school_code = 102")[0][0]
    # an older export of the same school and dates (a re-sent file) never replaces the newer one
    older = write_csv(src / "resent" / "ATT_102_20240906.csv", [rows[0]] + rows[1:-3])
    # a newer export that lost most of the school's rows is held back, not applied
    mass = write_csv(src / "later" / "ATT_102_20240920.csv", rows[:6])
    span = {"start_date": date(2024, 8, 15), "end_date": TODAY}  # the dates the exports cover
    report = run(Options(str(src), **span))
    by_path = {f.path: f for f in report.files}
    assert by_path["resent/ATT_102_20240906.csv"].status == "refused"
    assert "older_export" in by_path["resent/ATT_102_20240906.csv"].message
    assert by_path["later/ATT_102_20240920.csv"].status == "refused"
    assert "held_back" in by_path["later/ATT_102_20240920.csv"].message
    assert query("select count(*) from raw_aeries.attendance_days where school_code = 102") == [(held,)]
    assert query("select count(*) from raw_aeries.attendance_days_incoming") == [(0,)]
    # the operator confirms: the deletions are real
    run(Options(str(src / "later"), allow_mass_delete=True, **span))
    assert query("select count(*) from raw_aeries.attendance_days where school_code = 102") == [(5,)]
    older.unlink()
    mass.unlink()


def test_cli_exit_codes_lock_and_no_student_data_in_logs(fresh_db, exports, tmp_path, monkeypatch, capsys):
    from dlt_pipelines.common.locks import source_lock

    monkeypatch.delenv("AERIES_EXPORT_URL", raising=False)
    assert dispatcher.run(["aeries-files"]) == 2
    assert "AERIES_EXPORT_URL" in capsys.readouterr().err
    assert dispatcher.run(["aeries-files", "--source-url", str(tmp_path / "nowhere")]) == 2
    src = tmp_path / "src"
    shutil.copytree(exports / "codes", src)
    stu = read_csv(src / "STU_101.csv")
    last_name = stu[2][stu[0].index("LN")]
    stu[2][stu[0].index("GR")] = "4242424"
    write_csv(src / "STU_101.csv", stu)
    (src / "ATT_101_broken.csv").write_bytes(b'SC,ID,DT,AL\r\n101,"10100001,9/3/2024,A\r\n')
    with source_lock(fresh_db, "aeries"):
        assert dispatcher.run(["aeries-files", "--source-url", str(src)]) == 3
    assert "Another Aeries run" in capsys.readouterr().err
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("schooldata").addHandler(handler)
    try:
        assert dispatcher.run(["aeries-files", "--source-url", str(src)]) == 0
        assert dispatcher.run(["aeries-files", "--source-url", str(src), "--strict", "--force"]) == 1
    finally:
        logging.getLogger("schooldata").removeHandler(handler)
    out = capsys.readouterr().out
    assert "unclosed_quote" in out and "1 rejected" in out and "unexpected" not in out
    logs = stream.getvalue()
    assert '"event": "file_loaded"' in logs and '"event": "file_refused"' in logs
    assert last_name not in logs and "10100001" not in logs and "4242424" not in logs


def test_the_nightly_of_a_district_without_an_api_certificate_loads_its_exports(fresh_db, exports,
                                                                                monkeypatch, capsys):
    """Only AERIES_EXPORT_URL is configured: `nightly` runs Aeries through its CSV exports."""
    from dlt_pipelines import schedule

    for name in ("SCHOOLDATA_SOURCES", "AERIES_BASE_URL", "IREADY_SOURCE_URL", "BAKALARI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AERIES_EXPORT_URL", str(exports / "codes"))
    assert schedule.run("nightly", ["--skip-dbt"]) == 0
    assert '"source": "aeries"' in capsys.readouterr().out
    loaded = query("select count(*) from raw_aeries.export_files where status = 'loaded'")[0][0]
    assert loaded == len(list((exports / "codes").glob("*.csv")))
    assert query("select count(*) from raw_aeries.attendance_days")[0][0] > 0
    assert query("select source, status from ops.sync_runs") == [("aeries_files", "sync_ok")]
