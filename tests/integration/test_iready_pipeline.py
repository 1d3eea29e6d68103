"""The i-Ready source end to end against a real Postgres: complete loads of generated exports,
bad files refused whole, bad rows rejected with file/line/column/reason, per-file replace,
duplicates across files, re-runs, an fsspec URL and the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from pathlib import Path

import fsspec
import pytest

from dlt_pipelines import cli as dispatcher
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.logs import JsonFormatter
from dlt_pipelines.iready import files as iready_files
from dlt_pipelines.iready.pipeline import run_iready
from dlt_pipelines.simulators.iready_exports import StudentRecord, write_exports

pytestmark = pytest.mark.integration


def roster(n: int = 24) -> list[StudentRecord]:
    return [StudentRecord(str(41000 + i), f"Given{i}", f"Surname{i}", 2 + i % 7, "101", "North Middle")
            for i in range(n)]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n", delimiter=delimiter).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def query(sql: str, params=()) -> list[tuple]:
    with wh.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def rows_by_file() -> dict[str, int]:
    return dict(query("select source_file, count(*) from raw_iready.diagnostic_results group by 1"))


def test_generated_exports_load_completely_and_a_rerun_skips_them(fresh_db, tmp_path):
    src = tmp_path / "src"
    paths = write_exports(roster(), src, seed=9)
    report = run_iready(str(src))
    expected = {p.relative_to(src).as_posix(): read_csv(p) for p in paths}
    assert report.count("loaded") == 4 and report.rows_rejected == 0
    assert rows_by_file() == {rel: len(rows) - 1 for rel, rows in expected.items()}
    for rel, rows in expected.items():
        header = rows[0]
        i_score, i_done = header.index("Overall Scale Score"), header.index("Completion Date")
        got = query("select sum(overall_scale_score), count(distinct completion_date), min(academic_year),"
                    " max(subject) from raw_iready.diagnostic_results where source_file = %s", (rel,))[0]
        assert got[0] == sum(int(r[i_score]) for r in rows[1:])
        assert got[1] == len({r[i_done] for r in rows[1:]})
        assert got[2] == rel.split("/")[0] and got[3] == ("ela" if "_ela_" in rel else "math")
    registry = query("select path, sha256, status, rows_loaded, layout from raw_iready.files order by path")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in registry] == [
        (rel, hashlib.sha256((src / rel).read_bytes()).hexdigest(), "loaded", len(rows) - 1, "current")
        for rel, rows in sorted(expected.items())]
    run = query("select status, counts->>'rows_loaded', rejects from ops.sync_runs where run_id = %s",
                (report.run_id,))
    assert run == [("sync_ok", str(sum(len(r) - 1 for r in expected.values())), 0)]
    # domain columns are filled for the file's subject only
    assert query("select count(*) from raw_iready.diagnostic_results where subject = 'math'"
                 " and (phonics_scale_score is not null or geometry_scale_score is null)") == [(0,)]
    loaded_at = query("select max(_loaded_at) from raw_iready.diagnostic_results")

    again = run_iready(str(src))  # the same files loaded twice
    assert again.count("unchanged") == 4 and again.rows_loaded == 0
    assert rows_by_file() == {rel: len(rows) - 1 for rel, rows in expected.items()}
    assert query("select max(_loaded_at) from raw_iready.diagnostic_results") == loaded_at


def _bad_inputs(base: Path, root: Path) -> dict:
    """Writes one file per kind of bad input under ``root/<case>/``; returns what to expect."""
    ela = read_csv(base / "diagnostic_results_ela_CONFIDENTIAL.csv")
    math = read_csv(base / "diagnostic_results_math_CONFIDENTIAL.csv")
    header = ela[0]
    name = "diagnostic_results_ela_CONFIDENTIAL.csv"
    raw = (base / name).read_bytes()
    col = header.index

    def at(case: str, file_name: str = name) -> Path:
        return root / case / "2024-2025" / file_name

    def edited(rows, line: int, column: str, value: str) -> list[list[str]]:
        out = [list(r) for r in rows]
        out[line - 1][rows[0].index(column)] = value
        return out

    refused, row_rejects = {}, {}
    write_csv(at("missing_column"), [r[:col("Percentile")] + r[col("Percentile") + 1:] for r in ela])
    refused["missing_column"] = ["header_mismatch", "missing columns: 'Percentile'"]
    renamed = [list(r) for r in ela]
    renamed[0][col("Overall Scale Score")] = "Overall Score"
    write_csv(at("renamed_column"), renamed)
    refused["renamed_column"] = ["missing columns: 'Overall Scale Score'", "unknown columns: 'Overall Score'"]
    extra = [r + (["Favorite Color"] if i == 0 else ["blue"]) for i, r in enumerate(ela)]
    write_csv(at("extra_column"), extra)
    refused["extra_column"] = ["unknown columns: 'Favorite Color'"]
    at("empty_file").parent.mkdir(parents=True)
    at("empty_file").write_bytes(b"")
    refused["empty_file"] = ["empty_file"]
    write_csv(at("header_only"), ela[:1])
    refused["header_only"] = ["no_data_rows"]
    write_csv(at("semicolon"), ela, delimiter=";")
    refused["semicolon"] = ["wrong_delimiter", "semicolon"]
    latin = [list(r) for r in ela]
    latin[3][col("School")] = "Escuela Señora"
    write_csv(at("latin1"), latin, encoding="latin-1")
    refused["latin1"] = ["not_utf8", "line 4"]
    swapped = [list(r) for r in math]
    ela_domains = header[col("Phonics Scale Score"):col("Phonics Scale Score") + 12]
    start = swapped[0].index("Number and Operations Scale Score")
    swapped[0][start:start + 12] = ela_domains
    write_csv(at("math_with_ela_domains", "diagnostic_results_math_CONFIDENTIAL.csv"), swapped)
    refused["math_with_ela_domains"] = ["unknown columns: 'Phonics Scale Score'",
                                        "missing columns: 'Number and Operations Scale Score'"]

    write_csv(at("score_950"), edited(ela, 3, "Overall Scale Score", "950"))
    row_rejects["score_950"] = [(3, "overall_scale_score", "scale_score_out_of_range")]
    write_csv(at("score_abc"), edited(ela, 4, "Vocabulary Scale Score", "abc"))
    row_rejects["score_abc"] = [(4, "vocabulary_scale_score", "scale_score_not_integer")]
    before = edited(ela, 5, "Start Date", "5/30/2025")
    write_csv(at("completion_before_start"), before)
    row_rejects["completion_before_start"] = [(5, "completion_date", "completion_before_start")]
    mixed = edited(edited(edited(ela, 2, "Student ID", ""), 6, "Overall Placement", "Level 42"),
                   7, "Percent Progress to Annual Typical Growth (%)", "lots")
    write_csv(at("row_rules"), mixed)
    row_rejects["row_rules"] = [(2, "student_id", "missing_student_id"),
                                (6, "overall_placement", "unknown_placement"),
                                (7, "percent_progress_to_annual_typical_growth", "percent_not_numeric")]
    cut = raw.rstrip(b"\r\n")
    truncated = cut[: cut.rfind(b"\n") + 1 + 40]  # the last line stops after 40 bytes
    at("truncated_last_line").parent.mkdir(parents=True)
    at("truncated_last_line").write_bytes(truncated)
    row_rejects["truncated_last_line"] = [(len(ela), None, "wrong_field_count")]
    at("bom").parent.mkdir(parents=True)
    at("bom").write_bytes(b"\xef\xbb\xbf" + raw)
    row_rejects["bom"] = []

    # values that once passed the checks and failed the whole run at the cast, or loaded wrongly
    write_csv(at("plus_sign"), edited(ela, 3, "Overall Scale Score", "+512"))
    row_rejects["plus_sign"] = []  # a signed whole number is a number: loads as 512
    write_csv(at("overflow"), edited(ela, 4, "Percentile", "99999999999999999999"))
    row_rejects["overflow"] = [(4, "percentile", "number_out_of_range")]
    write_csv(at("nul_byte"), edited(ela, 5, "School", "North\x00Middle"))
    row_rejects["nul_byte"] = [(5, None, "nul_byte")]
    write_csv(at("line_over_1mb"), edited(ela, 6, "Class(es)", "x" * (1_100_000)))
    row_rejects["line_over_1mb"] = [(6, None, "line_too_long")]
    write_csv(at("infinity"), edited(ela, 3, "Percent Progress to Annual Typical Growth (%)", "1e400"))
    row_rejects["infinity"] = [(3, "percent_progress_to_annual_typical_growth", "number_out_of_range")]
    write_csv(at("negative_duration"), edited(ela, 4, "Duration (min)", "-5"))
    row_rejects["negative_duration"] = [(4, "duration_min", "duration_out_of_range")]
    write_csv(at("wide_quoted_field"), edited(ela, 5, "Class Teacher(s)", '"Ms, A" ' * 40_000))
    row_rejects["wide_quoted_field"] = []  # 320 kB quoted, with commas and quotes: loads whole

    at("utf16").parent.mkdir(parents=True)
    at("utf16").write_bytes(raw.decode("utf-8").encode("utf-16"))
    refused["utf16"] = ["not_utf8", "UTF-16"]
    lines = raw.split(b"\r\n")
    lines[6] = lines[6].replace(b",North Middle,", b',"North Middle,', 1)
    at("unclosed_quote").parent.mkdir(parents=True)
    at("unclosed_quote").write_bytes(b"\r\n".join(lines))
    refused["unclosed_quote"] = ["unclosed_quote", "line 7"]
    write_csv(at("header_missing"), ela[1:])
    refused["header_missing"] = ["header_mismatch", "is the header row missing"]
    dup = [list(r) for r in ela]
    dup[0][col("Rush Flag")] = "Read Aloud"
    write_csv(at("duplicated_column"), dup)
    refused["duplicated_column"] = ["header_mismatch", "duplicated columns: 'Read Aloud'"]
    at("nul_header").parent.mkdir(parents=True)
    at("nul_header").write_bytes(raw.replace(b"Last Name", b"Last\x00Name", 1))
    refused["nul_header"] = ["not_utf8", "NUL"]
    return {"refused": refused, "rejects": row_rejects, "data_rows": len(ela) - 1}


def test_every_kind_of_bad_input_is_refused_or_rejected_and_no_valid_row_is_lost(fresh_db, tmp_path):
    base = write_exports(roster(), tmp_path / "base", seed=4, academic_years=("2024-2025",))[0].parent
    root = tmp_path / "drop"
    expect = _bad_inputs(base, root)
    # the older and the 2026-27 vendor wording load into the same canonical columns
    write_exports(roster(6), root / "legacy_names", seed=4, academic_years=("2024-2025",), layout="legacy")
    write_exports(roster(6), root / "inform_names", seed=4, academic_years=("2026-2027",), layout="inform")

    report = run_iready(str(root))
    status = {f.path.split("/")[0]: f for f in report.files}
    files = query("select path, status, message from raw_iready.files")
    registry = {r[0].split("/")[0]: r[1:] for r in files}
    loaded = rows_by_file()
    for case, fragments in expect["refused"].items():
        assert status[case].status == "refused", case
        assert registry[case][0] == "refused"
        for fragment in fragments:
            assert fragment in registry[case][1], (case, registry[case][1])
        assert not [k for k in loaded if k.startswith(case + "/")]
        rejects = query("select line_number, reason from ops.load_rejects where file_name like %s",
                        (case + "/%",))
        assert [r[0] for r in rejects] == [1] and fragments[0] in rejects[0][1], case
    for case, rejects in expect["rejects"].items():
        rel = f"{case}/2024-2025/diagnostic_results_ela_CONFIDENTIAL.csv"
        got = query("select line_number, column_name, split_part(reason, ':', 1) from ops.load_rejects"
                    " where run_id = %s and file_name = %s order by line_number", (report.run_id, rel))
        assert got == rejects, case
        assert loaded[rel] == expect["data_rows"] - len(rejects), case
        lines = {r[0] for r in query("select source_line from raw_iready.diagnostic_results"
                                     " where source_file = %s", (rel,))}
        assert lines == set(range(2, expect["data_rows"] + 2)) - {r[0] for r in rejects}, case
    layouts = dict(query("select split_part(source_file, '/', 1), min(layout)"
                         " from raw_iready.diagnostic_results"
                         " where source_file like 'legacy_names/%%' or source_file like 'inform_names/%%'"
                         " group by 1"))
    assert layouts == {"legacy_names": "legacy", "inform_names": "inform"}
    assert query("select count(*) from raw_iready.diagnostic_results where source_file like 'inform_names/%%'"
                 " and (baseline_diagnostic_y_n is null or most_recent_diagnostic_y_n is null)") == [(0,)]
    assert query("select count(*) from raw_iready.diagnostic_results where source_file like 'legacy_names/%%'"
                 " and subject = 'ela' and comprehension_overall_scale_score is null") == [(0,)]
    assert query("select status from ops.sync_runs where run_id = %s", (report.run_id,)) == [("sync_ok",)]
    assert report.count("refused") == len(expect["refused"])
    assert len(expect["refused"]) + len(expect["rejects"]) >= 20
    assert query("select overall_scale_score from raw_iready.diagnostic_results where source_file like"
                 " 'plus_sign/%%' and source_line = 3") == [(512,)]
    assert query("select length(class_teacher_s) from raw_iready.diagnostic_results where source_file like"
                 " 'wide_quoted_field/%%' and source_line = 5") == [(len('"Ms, A" ' * 40_000) - 1,)]
    # every loaded file: data records = loaded + rejected (asserted by the loader, recorded here)
    assert query("select count(*) from raw_iready.files where status = 'loaded'"
                 " and data_records <> rows_loaded + rows_rejected") == [(0,)]


def test_line_breaks_inside_quotes_and_blank_lines_are_accounted_for(fresh_db, tmp_path):
    base = write_exports(roster(12), tmp_path / "base", seed=4, academic_years=("2024-2025",))[0]
    rows = read_csv(base)
    multi = [list(r) for r in rows]
    multi[2][rows[0].index("Class Teacher(s)")] = "Smith,\nJones"
    write_csv(tmp_path / "src" / "multi" / base.name, multi)
    spaced = (base.read_bytes().replace(b"\r\n", b"\r\n\r\n , ,\r\n", 3))
    (tmp_path / "src" / "blank").mkdir(parents=True)
    (tmp_path / "src" / "blank" / base.name).write_bytes(spaced)
    # a stray quote after a quoted value: found by the parser inside dlt's extract step (dlt wraps
    # it in PipelineStepFailed); the file is refused with the reason, the others load, exit 0
    stray = [list(r) for r in multi]
    write_csv(tmp_path / "src" / "stray" / base.name, stray)
    data = (tmp_path / "src" / "stray" / base.name).read_bytes()
    (tmp_path / "src" / "stray" / base.name).write_bytes(data.replace(b"\nSurname3,", b'\n"Surname"3,', 1))
    assert dispatcher.run(["iready", "--source-url", str(tmp_path / "src")]) == 0
    with wh.cursor() as cur:
        cur.execute("select split_part(path, '/', 1), status, rows_loaded, message from raw_iready.files")
        files = {r[0]: r[1:] for r in cur.fetchall()}
    assert files["multi"][:2] == ("loaded", len(rows) - 1) and files["blank"][:2] == ("loaded", len(rows) - 1)
    assert files["stray"][0] == "refused" and files["stray"][2].startswith("malformed_csv: line"), files
    assert not rows_by_file().get(f"stray/{base.name}")
    report = run_iready(str(tmp_path / "src"), force=True)
    assert {f.path.split("/")[0]: (f.status, f.rows_loaded, f.rows_rejected) for f in report.files} == {
        "multi": ("loaded", len(rows) - 1, 0), "blank": ("loaded", len(rows) - 1, 0),
        "stray": ("refused", 0, 0)}
    assert query("select class_teacher_s from raw_iready.diagnostic_results where source_file like 'multi/%%'"
                 " and source_line = 3") == [("Smith,\nJones",)]


def test_one_run_at_a_time(fresh_db, tmp_path, capsys):
    from dlt_pipelines.common.locks import source_lock

    write_exports(roster(4), tmp_path, seed=3, academic_years=("2024-2025",))
    with source_lock(fresh_db, "iready"):
        assert dispatcher.run(["iready", "--source-url", str(tmp_path)]) == 3
    assert "Another i-Ready run" in capsys.readouterr().err
    assert dispatcher.run(["iready", "--source-url", str(tmp_path)]) == 0


def test_a_changed_file_replaces_its_rows_and_a_crash_never_half_loads(fresh_db, tmp_path, monkeypatch):
    src = tmp_path / "src"
    paths = write_exports(roster(), src, seed=5, academic_years=("2024-2025",))
    run_iready(str(src), chunk_rows=10)
    target = paths[1]
    rel = target.relative_to(src).as_posix()
    rows = read_csv(target)
    new = [rows[0]] + rows[1:-5]
    i_score = rows[0].index("Overall Scale Score")
    new[1][i_score] = str(int(new[1][i_score]) + 7)
    write_csv(target, new)
    new_sha = hashlib.sha256(target.read_bytes()).hexdigest()
    before = query("select file_sha256, count(*) from raw_iready.diagnostic_results where source_file = %s"
                   " group by 1", (rel,))

    calls = {"n": 0}
    real = iready_files.RowValidator.validate_columns

    def flaky(self, columns, n):
        calls["n"] += 1
        if calls["n"] == 4:  # after three chunks of 10 rows were handed to dlt
            raise OSError("connection to the SFTP server lost")
        return real(self, columns, n)

    monkeypatch.setattr(iready_files.RowValidator, "validate_columns", flaky)
    with pytest.raises(Exception, match="SFTP server lost"):
        run_iready(str(src), chunk_rows=10)
    assert query("select file_sha256, count(*) from raw_iready.diagnostic_results where source_file = %s"
                 " group by 1", (rel,)) == before
    assert query("select status from ops.sync_runs order by started_at desc limit 1") == [("sync_fail",)]
    monkeypatch.setattr(iready_files.RowValidator, "validate_columns", real)

    report = run_iready(str(src), chunk_rows=10)
    assert {f.path: f.status for f in report.files} == {paths[0].relative_to(src).as_posix(): "unchanged",
                                                         rel: "loaded"}
    assert query("select file_sha256, count(*) from raw_iready.diagnostic_results where source_file = %s"
                 " group by 1", (rel,)) == [(new_sha, len(new) - 1)]
    assert query("select overall_scale_score from raw_iready.diagnostic_results where source_file = %s"
                 " and source_line = 2", (rel,)) == [(int(new[1][i_score]),)]
    assert query("select sha256, rows_loaded from raw_iready.files where path = %s", (rel,)) == [
        (new_sha, len(new) - 1)]


def test_duplicates_across_files_the_newer_export_wins_by_its_name_never_its_mtime(fresh_db, tmp_path):
    src = tmp_path / "src"
    paths = write_exports(roster(10), src / "2024-2025", seed=6, academic_years=("2024-2025",))
    first = paths[1]  # math
    rows = read_csv(first)
    i_score = rows[0].index("Overall Scale Score")
    changed = [list(r) for r in rows]
    changed[1][i_score] = str(int(rows[1][i_score]) + 3)
    # a correcting export, dated in its name, copied with an OLDER modification time
    resent = write_csv(src / "resent" / "2024-2025" / "diagnostic_results_math_CONFIDENTIAL_2025-06-20.csv",
                       changed)
    os.utime(first, (1_700_000_200, 1_700_000_200))
    os.utime(resent, (1_600_000_000, 1_600_000_000))
    report = run_iready(str(src))
    assert report.rows_rejected == 0 and report.duplicates_superseded == len(rows) - 1
    assert rows_by_file()[resent.relative_to(src).as_posix()] == len(rows) - 1  # nothing lost in raw
    key = (rows[1][rows[0].index("Student ID")],)
    sql = ("select overall_scale_score, source_file from raw_iready.diagnostic_results_deduplicated"
           " where student_id = %s and subject = 'math' order by completion_date limit 1")
    assert query(sql, key) == [(int(changed[1][i_score]), resent.relative_to(src).as_posix())]
    dedup = query("select count(*) from raw_iready.diagnostic_results_deduplicated where subject = 'math'")
    assert dedup == [(len(rows) - 1,)]
    assert query("select export_as_of::text from raw_iready.files where path = %s",
                 (resent.relative_to(src).as_posix(),)) == [("2025-06-20",)]
    # touching the older file changes nothing: the modification time never decides
    counts = rows_by_file()
    os.utime(first, (1_800_000_000, 1_800_000_000))
    run_iready(str(src), force=True)
    assert query(sql, key) == [(int(changed[1][i_score]), resent.relative_to(src).as_posix())]
    assert rows_by_file() == counts  # a forced reload replaces, never doubles
    # a later-dated export wins over both
    later = [list(r) for r in rows]
    later[1][i_score] = str(int(rows[1][i_score]) - 2)
    newest = write_csv(src / "diagnostic_results_math_CONFIDENTIAL_20250701.csv", later)
    os.utime(newest, (1_500_000_000, 1_500_000_000))
    run_iready(str(src))
    assert query(sql, key) == [(int(later[1][i_score]), newest.relative_to(src).as_posix())]


def test_fsspec_memory_url(fresh_db, tmp_path):
    paths = write_exports(roster(8), tmp_path, seed=7, academic_years=("2024-2025",))
    mem = fsspec.filesystem("memory")
    for p in paths:
        mem.pipe(f"/it-iready/exports/2024-2025/{p.name}", p.read_bytes())
    try:
        report = run_iready("memory://it-iready/exports")
    finally:
        mem.rm("/it-iready", recursive=True)
    assert report.count("loaded") == 2
    assert sum(rows_by_file().values()) == sum(len(read_csv(p)) - 1 for p in paths)


def test_cli_entry_point_and_no_student_data_in_logs(fresh_db, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("IREADY_SOURCE_URL", raising=False)
    assert dispatcher.run(["iready"]) == 2
    err = capsys.readouterr().err
    assert "No i-Ready source given." in err and "IREADY_SOURCE_URL" in err
    assert dispatcher.run(["iready", "--source-url", str(tmp_path / "nowhere")]) == 2

    src = tmp_path / "src"
    write_exports(roster(), src, seed=8, academic_years=("2024-2025",))
    bad = read_csv(src / "2024-2025" / "diagnostic_results_ela_CONFIDENTIAL.csv")
    bad[2][bad[0].index("Overall Scale Score")] = "9999"
    write_csv(src / "other" / "diagnostic_results_ela_CONFIDENTIAL.csv", bad)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("schooldata").addHandler(handler)
    try:
        monkeypatch.setenv("IREADY_SOURCE_URL", str(src))
        assert dispatcher.run(["iready"]) == 0
    finally:
        logging.getLogger("schooldata").removeHandler(handler)
    out = capsys.readouterr().out
    assert "3 loaded" in out and "1 rejected" in out
    logs = stream.getvalue()
    assert '"event": "sync_ok"' in logs and '"event": "file_read"' in logs
    assert "Surname" not in logs and "Given" not in logs and "41001" not in logs and "9999" not in logs
