"""Nothing sensitive at rest outside the warehouse (docs/security.md): after real i-Ready and
Bakaláři loads the dlt working folders hold no student name and are private, the merge
staging datasets are empty, and rejected rows are stored encrypted (decryptable only with
the right key)."""

from __future__ import annotations

import base64
import csv
import gzip
import os
import stat
from pathlib import Path

import pytest

from dlt_pipelines import cli as dispatcher
from dlt_pipelines.bakalari.pipeline import sync
from dlt_pipelines.bakalari.settings import BakalariSettings
from dlt_pipelines.common import audit, rejects_key
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.audit import SyncRun
from dlt_pipelines.common.http import RetryPolicy
from dlt_pipelines.common.logs import configure
from dlt_pipelines.iready.pipeline import run_iready
from dlt_pipelines.simulators.bakalari_api import BakalariSimulator
from dlt_pipelines.simulators.czech_school import CzechSchool
from dlt_pipelines.simulators.iready_exports import StudentRecord, write_exports

pytestmark = pytest.mark.integration
USER, PASSWORD = "zastupce", "Tajne-Heslo-123"


def query(sql: str, params=()) -> list[tuple]:
    with wh.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def file_texts(root: Path):
    """(path, text) of every file under root; gzip files decompressed."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        yield path, data.decode("utf-8", errors="replace")


def names_on_disk(root: Path, names: set[str]) -> list[str]:
    return [f"{path.relative_to(root)}: {name}" for path, text in file_texts(root)
            for name in names if name in text]


def private_problems(root: Path, files_too: bool = True) -> list[str]:
    """Folders (and files) under root that another OS user could open."""
    problems = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink() or (path.is_file() and not files_too):
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            problems.append(f"{path.relative_to(root) or '.'}: {oct(mode)}")
    return problems


def test_loads_leave_no_student_name_on_disk_and_private_folders(fresh_db, tmp_path):
    local, pipelines = Path(os.environ["SCHOOLDATA_LOCAL_DIR"]), Path(os.environ["SCHOOLDATA_PIPELINES_DIR"])
    roster = [StudentRecord(str(52000 + i), f"Vendula{i:02d}x", f"Kratochvilova{i:02d}y", 3 + i % 5, "101",
                            "North Middle") for i in range(20)]
    exports = tmp_path / "exports"
    write_exports(roster, exports, seed=5)
    # a line that fails validation: its cells (a name included) go to ops.load_rejects, encrypted
    first = sorted(exports.rglob("*.csv"))[0]
    with first.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    bad = list(rows[1])
    bad[rows[0].index("Overall Scale Score")] = "abc"
    bad[rows[0].index("Last Name")] = "Rejectedova"
    with first.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerow(bad)

    report = run_iready(str(exports))
    assert report.count("loaded") == 4 and report.rows_rejected == 1
    with BakalariSimulator(CzechSchool.build(seed=11), username=USER, password=PASSWORD) as sim:
        settings = BakalariSettings(base_url=sim.base_url, username=USER, password=PASSWORD,
                                    requests_per_minute=None, timeout_seconds=5)
        assert sync(settings, policy=RetryPolicy(max_attempts=3, base_delay=0.01))["status"] == "sync_ok"

    names = {"Rejectedova"} | {n for (n,) in query("select last_name from raw_iready.diagnostic_results"
                                 " union select first_name from raw_iready.diagnostic_results"
                                 " union select last_name from raw_bakalari.students"
                                 " union select name from raw_bakalari.teachers") if n and len(n) >= 4}
    assert len(names) > 40
    assert any(n.startswith("Kratochvilova") for n in names)
    assert names_on_disk(pipelines, names) == []
    assert names_on_disk(local, names) == []
    assert "Rejectedova" not in _dump("ops.load_rejects")
    assert (pipelines / "iready").is_dir() and (pipelines / "bakalari").is_dir()
    assert not list(pipelines.rglob("completed_jobs/*")), "completed load jobs were kept"
    assert private_problems(local, files_too=False) == [] and private_problems(pipelines) == []

    # merge loads go through raw_*_staging, which are emptied after each load
    staging = query("select table_schema, table_name from information_schema.tables"
                    " where table_schema like 'raw\\_%%\\_staging' and table_name not like '\\_dlt%%'")
    assert {s for s, _ in staging} == {"raw_iready_staging", "raw_bakalari_staging"}
    for schema, table in staging:
        assert query(f'select count(*) from "{schema}"."{table}"') == [(0,)], f"{schema}.{table}"


def _dump(table: str) -> str:
    return "\n".join(r[0] for r in query(f"select row_to_json(t)::text from {table} as t"))


def test_rejected_rows_are_encrypted_and_decrypt_only_with_the_right_key(fresh_db, capsys, monkeypatch):
    monkeypatch.delenv(rejects_key.KEY_ENV, raising=False)
    configure()  # JSON log lines to stderr, as the CLI does
    record = {"student_id": "70012345", "first_name": "Bohumila", "last_name": "Zlatohlavkova",
              "birth_date": "2012-03-04"}
    with SyncRun("iready") as run:
        run.reject("diagnostic_results", "invalid_date: the value is not a date (M/D/YYYY)", record,
                   file_name="2024-2025/diagnostic_results_ela.csv", line_number=7, column_name="start_date")
        run.reject("diagnostic_results", "header_mismatch: missing columns", None, file_name="x.csv",
                   line_number=1)
    err = capsys.readouterr().err

    # the generated key file is private, and the key appears nowhere it should not
    key_path = rejects_key.key_file()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    key_text = key_path.read_text().strip()
    assert key_text not in err and "rejects_key_generated" in err
    stored = _dump("ops.load_rejects")
    for value in (*record.values(), key_text):
        assert value not in stored
    assert b"Zlatohlavkova" not in b"".join(
        bytes(r[0]) for r in query("select record_encrypted from ops.load_rejects where record_encrypted"
                                   " is not null"))
    clear = query("select reason, column_name, line_number, record_key_id is not null,"
                  " record_encrypted is null from ops.load_rejects order by reject_id")
    assert clear == [("invalid_date: the value is not a date (M/D/YYYY)", "start_date", 7, True, False),
                     ("header_mismatch: missing columns", None, 1, False, True)]

    # the right key (the generated file) decrypts
    assert dispatcher.run(["rejects", "decrypt", "--run-id", run.run_id]) == 0
    out = capsys.readouterr().out
    assert "Zlatohlavkova" in out and '"line_number": 7' in out
    assert dispatcher.run(["rejects", "decrypt", "--run-id", run.run_id, "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1

    # a wrong key is refused with one sentence and the fix; nothing is printed
    monkeypatch.setenv(rejects_key.KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    assert dispatcher.run(["rejects", "decrypt", "--run-id", run.run_id]) == 2
    got = capsys.readouterr()
    assert "Zlatohlavkova" not in got.out + got.err
    assert "encrypted with key id" in got.err and "fix: set SCHOOLDATA_REJECTS_KEY" in got.err
    # a malformed key, and no key at all
    monkeypatch.setenv(rejects_key.KEY_ENV, "not-a-key")
    assert dispatcher.run(["rejects", "decrypt"]) == 2
    assert "not a base64-encoded 32-byte key" in capsys.readouterr().err
    monkeypatch.delenv(rejects_key.KEY_ENV)
    key_path.rename(key_path.with_suffix(".moved"))
    assert dispatcher.run(["rejects", "decrypt"]) == 2
    assert "No key for the rejected rows" in capsys.readouterr().err
    assert not key_path.exists(), "decrypt must never create a key"
    key_path.with_suffix(".moved").rename(key_path)

    # a payload moved to another row does not decrypt (bound to run, source and resource)
    with wh.cursor() as cur:
        cur.execute("update ops.load_rejects set resource = 'students' where record_encrypted is not null")
    assert dispatcher.run(["rejects", "decrypt"]) == 2
    assert "does not decrypt this payload" in capsys.readouterr().err


def test_clear_text_rejects_of_an_older_warehouse_are_encrypted_in_place(fresh_db, capsys, monkeypatch):
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv(rejects_key.KEY_ENV, key)
    with wh.cursor() as cur:
        cur.execute("""create schema ops;
            create table ops.load_rejects (reject_id bigserial primary key, run_id text not null,
                source text not null, resource text not null, file_name text, line_number integer,
                column_name text, reason text not null, record jsonb,
                rejected_at timestamptz not null default now());
            insert into ops.load_rejects (run_id, source, resource, reason, record) values
                ('aeries-old', 'aeries', 'students', 'Birthdate is not a date',
                 '{"FirstName": "Radoslava", "LastName": "Old-Clear-Text"}'),
                ('aeries-old', 'aeries', 'students', 'StudentID is missing', null)""")
    audit.ensure_tables()
    assert query("select count(*) from information_schema.columns where table_schema = 'ops'"
                 " and table_name = 'load_rejects' and column_name = 'record'") == [(0,)]
    assert "Old-Clear-Text" not in _dump("ops.load_rejects")
    capsys.readouterr()
    assert dispatcher.run(["rejects", "decrypt", "--source", "aeries"]) == 0
    out = capsys.readouterr().out
    assert "Old-Clear-Text" in out and out.count('"run_id": "aeries-old"') == 2
    audit.ensure_tables()  # idempotent
