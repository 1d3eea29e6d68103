"""One run of the Aeries CSV export source: find the exports, refuse bad files, skip unchanged
ones, load each of the others in its own dlt run, replace attendance windows like the API path.

Registry ``raw_aeries.export_files`` (one row per file path) remembers which content (sha256) of
a file is loaded; it is written after the file's rows are committed, so a crash in between only
means the file is loaded again next time. Files load oldest export first (the date in the name,
else the file's latest attendance date), so the newest export of a table is merged last; an
attendance export older than what the warehouse already holds for its school and dates is refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from dlt_pipelines.aeries import window_store
from dlt_pipelines.common import at_rest, filedrop
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.audit import SyncRun
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.locks import source_lock
from dlt_pipelines.common.logs import event, get_logger

from . import DATASET, PIPELINE_NAME, aeries_files
from .layouts import TABLES, HeaderMatch, classify, match_header

log = get_logger("aeries_files")
SOURCE = "aeries_files"
REGISTRY = f"{DATASET}.export_files"

REGISTRY_DDL = f"""
create schema if not exists {DATASET};
create table if not exists {REGISTRY} (
    path text primary key,
    aeries_table text,
    sha256 text not null,
    loaded_sha256 text,
    size_bytes bigint,
    modified_at timestamptz,
    layout text,
    export_as_of date,
    data_records integer,
    rows_loaded integer,
    rows_rejected integer,
    status text not null check (status in ('loaded', 'refused')),
    message text,
    run_id text,
    loaded_at timestamptz,
    checked_at timestamptz not null
);
"""


@dataclass
class Checked:
    file: filedrop.ExportFile
    scan: filedrop.Scan
    header: HeaderMatch | None = None
    refused: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    def as_of(self, reader: Any = None) -> date | None:
        """The export's date: from its name, else its latest attendance date (never the mtime)."""
        if self.file.name_date:
            return self.file.name_date
        if reader is not None and reader.ranges:
            return max(last for _, last in reader.ranges.values())
        return self.outcome.get("as_of")


@dataclass
class Options:
    source_url: str
    start_date: date | None = None
    end_date: date | None = None
    force: bool = False
    dry_run: bool = False
    max_delete_share: float = window_store.DEFAULT_MAX_DELETE_SHARE
    allow_mass_delete: bool = False
    chunk_rows: int = 5_000


@dataclass
class FileReport:
    path: str
    status: str  # loaded | unchanged | refused | checked (dry run)
    table: str
    layout: str | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str | None = None


@dataclass
class RunReport:
    run_id: str | None
    source: str
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def discover(url: str):
    return filedrop.discover(url, classify, "Aeries export", "--source-url (or AERIES_EXPORT_URL)")


def check_file(fs: Any, f: filedrop.ExportFile, tmp: str) -> Checked:
    scanned = filedrop.scan(fs, f, tmp, "Aeries")
    out = Checked(f, scanned, refused=scanned.refused)
    if out.refused:
        return out
    out.header = match_header(scanned.header, TABLES[f.kind])
    if not out.header.ok:
        out.refused = (f"header_mismatch: the header does not match the Aeries {f.kind} export: "
                       f"{out.header.problem()}")
    return out


def _registry(warehouse: wh.Warehouse) -> dict[str, dict]:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('raw_aeries.export_files.ddl'))")
        cur.execute(REGISTRY_DDL)
        cur.execute(f"select path, loaded_sha256, export_as_of from {REGISTRY}")
        return {r[0]: {"loaded_sha256": r[1], "export_as_of": r[2]} for r in cur.fetchall()}


def _order(checked: Checked) -> tuple:
    # locations and calendars first (attendance reads them), then the rest, oldest export first
    first = {"LOC": 0, "DAY": 1, "ABS": 2, "STU": 3, "ENR": 4, "AHS": 5, "ATT": 6}[checked.file.kind]
    return (checked.file.name_date or date.min, first, checked.file.rel)


def run(options: Options, warehouse: wh.Warehouse | None = None) -> RunReport:
    """Load every new or changed export under the source URL; see docs/aeries-csv.md."""
    if options.start_date and options.end_date and options.end_date < options.start_date:
        raise OperatorError(f"--end-date {options.end_date} is before --start-date {options.start_date}.",
                            "pass an end date on or after the start date.")
    fs, files, ignored = discover(options.source_url)
    shown = filedrop.redact_url(options.source_url)
    if not files:
        raise OperatorError(
            f"No Aeries exports found under {shown} (looked for ATT*, STU*, ENR*, ABS*, LOC*, DAY*, AHS*.csv"
            " at any depth).", "point --source-url (or AERIES_EXPORT_URL) at the folder the exports go to.")
    report = RunReport(None, shown, ignored=ignored)
    if ignored:
        event(log, "files_ignored", count=len(ignored), names=[p.rsplit("/", 1)[-1] for p in ignored][:20])
    if options.dry_run:
        return _dry_run(fs, files, report, options)
    warehouse = warehouse or wh.resolve()
    params = {"source_url": shown, "files_found": len(files), "force": options.force,
              "start_date": options.start_date, "end_date": options.end_date,
              "allow_mass_delete": options.allow_mass_delete}
    # the API path's lock: both write raw_aeries' attendance windows
    with source_lock(warehouse, "aeries", "Aeries"), SyncRun(SOURCE, params, warehouse) as sync, \
            tempfile.TemporaryDirectory() as tmp:
        report.run_id = sync.run_id
        known = _registry(warehouse)
        window_store.ensure_tables(warehouse)
        loaded_at = datetime.now(UTC)
        to_load: list[Checked] = []
        done: list[tuple[Checked, str]] = []

        def refuse(checked: Checked, reason: str) -> None:
            checked.refused = reason
            done.append((checked, "refused"))
            event(log, "file_refused", logging.WARNING, run_id=sync.run_id, file=checked.file.rel,
                  reason=reason)
            sync.reject(checked.file.kind, reason, None, file_name=checked.file.rel, line_number=1)
            sync.add_count("files_refused")

        for f in files:
            checked = check_file(fs, f, tmp)
            if checked.refused:
                refuse(checked, checked.refused)
            elif not options.force and known.get(f.rel, {}).get("loaded_sha256") == checked.scan.sha256:
                done.append((checked, "unchanged"))
                event(log, "file_unchanged", run_id=sync.run_id, file=f.rel)
                sync.add_count("files_unchanged")
            else:
                to_load.append(checked)

        if to_load:
            import dlt

            dlt.config["normalize.data_writer.disable_compression"] = True
            # completed jobs deleted, staging truncated, working folder private: common/at_rest.py
            pipeline = at_rest.pipeline(PIPELINE_NAME, wh.dlt_destination(warehouse), DATASET)
            if pipeline.has_pending_data:  # a crashed run's (the lock says none is running)
                event(log, "pending_packages_dropped", run_id=sync.run_id)
                filedrop.abort_packages(pipeline)
            window_store.apply_pending(warehouse, options_guard(options))  # nothing of a crashed run
            try:
                for checked in sorted(to_load, key=_order):
                    loaded_as_of = known.get(checked.file.rel, {}).get("export_as_of")
                    reason = _load_one(pipeline, warehouse, checked, sync, loaded_at, options, loaded_as_of)
                    if reason:
                        refuse(checked, reason)
                        continue
                    done.append((checked, "loaded"))
                    o = checked.outcome
                    sync.add_count("files_loaded")
                    sync.add_count(f"{checked.header.table.resource}_rows", o.get("rows_loaded", 0))
                    sync.add_count("rows_loaded", o.get("rows_loaded", 0))
                    sync.add_count("rows_rejected", o.get("rows_rejected", 0))
                    event(log, "file_loaded", run_id=sync.run_id, file=checked.file.rel,
                          table=checked.file.kind, layout=checked.header.layout,
                          rows_loaded=o.get("rows_loaded", 0), rows_rejected=o.get("rows_rejected", 0),
                          schools=[w["school_code"] for w in o.get("windows", [])] or None)
            finally:
                at_rest.purge_loaded(pipeline)  # loaded packages hold rows in clear

        with wh.cursor(warehouse) as cur:
            for checked, status in done:
                if status == "unchanged":
                    cur.execute(f"update {REGISTRY} set checked_at = %s, status = 'loaded', message = null,"
                                " sha256 = loaded_sha256 where path = %s", (loaded_at, checked.file.rel))
                else:
                    _upsert(cur, checked, status, sync.run_id, loaded_at)
                report.files.append(_file_report(checked, status))
        report.files.sort(key=lambda r: r.path)
        report.counts = dict(sync.counts)
    return report


def options_guard(options: Options) -> window_store.DeleteGuard:
    return window_store.DeleteGuard(max_share=options.max_delete_share, allow=options.allow_mass_delete)


def _newer_windows(warehouse: wh.Warehouse, school: int, first: date, last: date) -> date | None:
    """The newest export date of the windows already applied over these dates, if newer."""
    with wh.cursor(warehouse) as cur:
        cur.execute(f"select max(as_of) from {window_store.STATE} where school_code = %s"
                    " and start_date <= %s and end_date >= %s", (school, last, first))
        return cur.fetchone()[0]


def _load_one(pipeline: Any, warehouse: wh.Warehouse, checked: Checked, sync: SyncRun, loaded_at: datetime,
              options: Options, loaded_as_of: date | None) -> str | None:
    """One file, one dlt run (and, for attendance, one window swap). The refusal reason or None."""
    rejects: list[tuple] = []
    f = checked.file

    def reject(line: int, column: str | None, reason: str, record: dict) -> None:
        rejects.append((reason, record, line, column))

    def check_window(school: int, first: date, last: date, as_of: date) -> None:
        newer = _newer_windows(warehouse, school, first, last)
        if not options.force and newer and as_of and newer > as_of:
            raise filedrop.FileRefused(
                f"older_export: school {school} {first}..{last} already holds an export as of {newer}, newer"
                f" than this one ({as_of}); the newer one is kept (--force loads it anyway)")

    if not options.force and loaded_as_of and f.name_date and f.name_date < loaded_as_of:
        return (f"older_export: this version is dated {f.name_date} in its name but the loaded one"
                f" {loaded_as_of}; the newer export is kept (--force loads it anyway)")
    source = aeries_files(checked, reject, loaded_at, sync.run_id, start=options.start_date,
                          end=options.end_date, chunk_rows=options.chunk_rows, check_window=check_window)
    try:
        info = pipeline.run(source)
        info.raise_on_failed_jobs()
    except Exception as exc:
        if os.environ.get("SCHOOLDATA_DEBUG") == "1":
            raise
        with contextlib.suppress(Exception):
            filedrop.abort_packages(pipeline)
        with contextlib.suppress(Exception):  # (apply_pending also discards incomplete windows)
            _discard_incoming(warehouse)
        refusal = filedrop.refusal_of(exc)
        if refusal is not None:
            return refusal.reason
        failure = filedrop.io_failure(exc)
        if failure is not None or filedrop.database_failure(exc) is not None:
            # the source, the disk or the warehouse went away: stop the run, nothing is half-loaded
            what = type(failure).__name__ if failure is not None else "the warehouse connection failed"
            raise filedrop.LoadFailed(f"Loading {f.rel} failed ({what}); nothing of it was committed."
                                      ) from None
        return (f"unreadable: the file could not be loaded ({type(exc).__name__}); nothing of it was loaded;"
                " rerun with SCHOOLDATA_DEBUG=1 for details")
    if f.kind == "ATT":
        applied = window_store.apply_pending(warehouse, options_guard(options))
        if applied.held_back:
            removed = sum(h.removed for h in applied.held_back)
            held = sum(h.existing for h in applied.held_back)
            schools = ", ".join(sorted({str(h.school_code) for h in applied.held_back}))
            return (f"held_back: the export would remove {removed} of the {held} student-days the warehouse"
                    f" holds for school(s) {schools}"
                    " and its dates; nothing was replaced. If the deletions are real, rerun with"
                    " --allow-mass-delete")
        sync.add_count("attendance_windows", applied.windows)
        sync.add_count("attendance_days", applied.days)
        sync.add_count("attendance_periods", applied.periods)
        # rows new or changed since the previous export (the rest were held already)
        sync.add_count("attendance_days_written", applied.days_written)
        sync.add_count("attendance_periods_written", applied.periods_written)
        sync.add_count("attendance_days_deleted", applied.days_deleted)
        sync.add_count("attendance_periods_deleted", applied.periods_deleted)
        checked.outcome["as_of"] = max((w["as_of"] for w in checked.outcome.get("windows", [])), default=None)
    for reason, record, line, column in rejects:
        sync.reject(checked.header.table.resource, reason, record, file_name=f.rel, line_number=line,
                    column_name=column)
    return None


def _discard_incoming(warehouse: wh.Warehouse) -> None:
    """Whatever a failed attendance file landed is never applied (one file per dlt run)."""
    with wh.cursor(warehouse) as cur:
        for table in (window_store.DAYS_IN, window_store.PERIODS_IN, window_store.WINDOWS_IN):
            cur.execute("select to_regclass(%s)", (table,))
            if cur.fetchone()[0] is not None:
                cur.execute(f"truncate {table}")


def _upsert(cur, checked: Checked, status: str, run_id: str, now: datetime) -> None:
    f, o = checked.file, checked.outcome
    loaded = status == "loaded"
    cur.execute(
        f"""insert into {REGISTRY} as r (path, aeries_table, sha256, loaded_sha256, size_bytes, modified_at,
                layout, export_as_of, data_records, rows_loaded, rows_rejected, status, message, run_id,
                loaded_at, checked_at)
            values (%(path)s, %(table)s, %(sha)s, %(loaded_sha)s, %(size)s, %(mtime)s, %(layout)s, %(as_of)s,
                %(records)s, %(rows)s, %(rejected)s, %(status)s, %(message)s, %(run_id)s, %(loaded_at)s,
                %(now)s)
            on conflict (path) do update set sha256 = excluded.sha256, aeries_table = excluded.aeries_table,
                loaded_sha256 = coalesce(excluded.loaded_sha256, r.loaded_sha256),
                size_bytes = excluded.size_bytes, modified_at = excluded.modified_at,
                layout = coalesce(excluded.layout, r.layout),
                export_as_of = coalesce(excluded.export_as_of, r.export_as_of),
                data_records = case when %(loaded)s then excluded.data_records else r.data_records end,
                rows_loaded = case when %(loaded)s then excluded.rows_loaded else r.rows_loaded end,
                rows_rejected = case when %(loaded)s then excluded.rows_rejected else r.rows_rejected end,
                status = excluded.status, message = excluded.message, run_id = excluded.run_id,
                loaded_at = coalesce(excluded.loaded_at, r.loaded_at), checked_at = excluded.checked_at""",
        {"path": f.rel, "table": f.kind, "sha": checked.scan.sha256,
         "loaded_sha": checked.scan.sha256 if loaded else None, "size": f.size, "mtime": f.modified_at,
         "layout": checked.header.layout if checked.header else None,
         "as_of": (f.name_date or o.get("as_of")) if loaded else None,
         "records": checked.scan.data_records, "rows": o.get("rows_loaded") if loaded else None,
         "rejected": o.get("rows_rejected") if loaded else None, "status": status,
         "message": checked.refused, "run_id": run_id, "loaded_at": now if loaded else None,
         "now": now, "loaded": loaded},
    )


def _file_report(checked: Checked, status: str) -> FileReport:
    o = checked.outcome
    counted = status in ("loaded", "checked")
    return FileReport(checked.file.rel, status, checked.file.kind,
                      checked.header.layout if checked.header else None,
                      o.get("rows_loaded", 0) if counted else 0, o.get("rows_rejected", 0) if counted else 0,
                      checked.refused)


def _dry_run(fs: Any, files: list, report: RunReport, options: Options) -> RunReport:
    """Check every file and row without touching the warehouse."""
    from dlt.extract import DltSource

    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            checked = check_file(fs, f, tmp)
            if not checked.refused:
                source: DltSource = aeries_files(checked, lambda *a: None, datetime.now(UTC), "dry-run",
                                                 start=options.start_date, end=options.end_date,
                                                 chunk_rows=options.chunk_rows)
                try:
                    for resource in source.resources.values():
                        for _ in resource:
                            pass
                except Exception as exc:  # a refusal raised inside the resource
                    refusal = filedrop.refusal_of(exc)
                    if refusal is None:
                        raise
                    checked.refused = refusal.reason
            report.files.append(_file_report(checked, "refused" if checked.refused else "checked"))
    return report
