"""One i-Ready run: find the exports, refuse bad files, skip unchanged ones, load the rest.

Registry ``raw_iready.files`` (one row per file path) remembers which content (sha256) of a
file is in ``raw_iready.diagnostic_results``; it is written only after dlt has committed
the rows, so a crash between the two only means the file is loaded again next time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dlt_pipelines.common import at_rest, filedrop
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.audit import SyncRun
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.locks import source_lock
from dlt_pipelines.common.logs import event, get_logger

from . import DATASET, PIPELINE_NAME, RESOURCE, iready
from .files import Checked, check_file, discover, read_rows, redact_url

log = get_logger("iready")

# Arrow tables skip dlt's row normalizer; ask it for the usual _dlt_load_id/_dlt_id anyway
# (scoped to this pipeline's name, so other pipelines in the process are not affected).
DLT_CONFIG = {
    f"{PIPELINE_NAME.upper()}__NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    f"{PIPELINE_NAME.upper()}__NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": "true",
    # gzip of the CSV load files cost more than extract, normalize and COPY together
    f"{PIPELINE_NAME.upper()}__NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION": "true",
}

REGISTRY_DDL = f"""
create schema if not exists {DATASET};
create table if not exists {DATASET}.files (
    path text primary key,
    sha256 text not null,
    loaded_sha256 text,
    size_bytes bigint,
    modified_at timestamptz,
    academic_year text,
    subject text,
    layout text,
    rows_loaded integer,
    rows_rejected integer,
    status text not null check (status in ('loaded', 'refused')),
    message text,
    run_id text,
    loaded_at timestamptz,
    checked_at timestamptz not null
);
alter table {DATASET}.files add column if not exists export_as_of date;
alter table {DATASET}.files add column if not exists data_records integer;
"""

# Which file wins a diagnostic found in several files: the more recent export by its own name or
# content (the date in its name, else its latest completion date), then the greater path, then
# the later line. The file's modification time never decides (copies and SFTP reset it).
DEDUP_VIEW = f"""
drop view if exists {DATASET}.diagnostic_results_deduplicated;
create view {DATASET}.diagnostic_results_deduplicated as
select * from (
    select d.*, row_number() over (
        partition by d.student_id, d.subject, d.completion_date
        order by coalesce(d.file_export_date, f.latest_completion) desc nulls last,
                 f.latest_completion desc nulls last, d.source_file desc, d.source_line desc
    ) as _dedup_rank
    from {DATASET}.{RESOURCE} d
    join (select source_file, max(completion_date) as latest_completion
          from {DATASET}.{RESOURCE} group by source_file) f using (source_file)
) ranked
where _dedup_rank = 1;
"""


@dataclass
class FileReport:
    path: str
    status: str  # loaded | unchanged | refused | checked (dry run)
    subject: str
    academic_year: str | None
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
    duplicates_superseded: int = 0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def _registry(warehouse: wh.Warehouse) -> dict[str, dict]:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('raw_iready.ddl'))")
        cur.execute(REGISTRY_DDL)
        cur.execute(f"select path, sha256, loaded_sha256, status, export_as_of from {DATASET}.files")
        return {r[0]: {"sha256": r[1], "loaded_sha256": r[2], "status": r[3], "export_as_of": r[4]}
                for r in cur.fetchall()}


def _year(checked: Checked) -> str | None:
    return checked.file.folder_year


def run_iready(source_url: str, *, dry_run: bool = False, force: bool = False,
               warehouse: wh.Warehouse | None = None, chunk_rows: int = 5_000) -> RunReport:
    """Load every new or changed export under ``source_url``; see docs/iready.md."""
    fs, files, ignored = discover(source_url)
    shown_url = redact_url(source_url)
    if not files:
        raise OperatorError(
            f"No i-Ready exports found under {shown_url} (looked for diagnostic_results_ela|math*.csv"
            " and i-ready_inform_results_*.csv at any depth).",
            "point --source-url (or IREADY_SOURCE_URL) at the folder the exports are delivered to.")
    report = RunReport(None, shown_url, ignored=ignored)
    if ignored:
        event(log, "files_ignored", count=len(ignored), names=[p.rsplit("/", 1)[-1] for p in ignored][:20])
    if dry_run:
        return _dry_run(fs, files, report, chunk_rows)

    warehouse = warehouse or wh.resolve()
    params = {"source_url": shown_url, "files_found": len(files), "force": force}
    with source_lock(warehouse, "iready", "i-Ready"), SyncRun("iready", params, warehouse=warehouse) as run, \
            tempfile.TemporaryDirectory() as tmp:
        report.run_id = run.run_id
        known = _registry(warehouse)
        to_load: list[Checked] = []
        refused: list[Checked] = []
        unchanged: list[Checked] = []

        def refuse(checked: Checked, reason: str) -> None:
            checked.refused = reason
            refused.append(checked)
            event(log, "file_refused", logging.WARNING, run_id=run.run_id, file=checked.file.rel,
                  reason=reason)
            run.reject(RESOURCE, reason, None, file_name=checked.file.rel, line_number=1)
            run.add_count("files_refused")

        for f in files:
            checked = check_file(fs, f, tmp)
            if checked.refused:
                refuse(checked, checked.refused)
            elif not force and known.get(f.rel, {}).get("loaded_sha256") == checked.sha256:
                unchanged.append(checked)
                event(log, "file_unchanged", run_id=run.run_id, file=f.rel)
                run.add_count("files_unchanged")
            else:
                to_load.append(checked)

        loaded_at = datetime.now(UTC)
        loaded: list[Checked] = []
        if to_load:
            for key, value in DLT_CONFIG.items():
                os.environ.setdefault(key, value)

            pipeline = at_rest.pipeline(PIPELINE_NAME, wh.dlt_destination(warehouse), DATASET)
            if pipeline.has_pending_data:
                # left by a crashed run (the lock says none is running); its files were not marked
                # loaded, so they load again now
                event(log, "pending_packages_dropped", run_id=run.run_id)
                filedrop.abort_packages(pipeline)
            try:
                for checked in to_load:
                    as_of = known.get(checked.file.rel, {}).get("export_as_of") if not force else None
                    reason = _load_one(pipeline, checked, run, loaded_at, chunk_rows, as_of)
                    if reason:
                        refuse(checked, reason)
                    else:
                        loaded.append(checked)
            finally:
                # loaded packages hold the rows in clear: never left on disk
                at_rest.purge_loaded(pipeline)

        with wh.cursor(warehouse) as cur:
            for checked in loaded:
                o = checked.outcome
                if not o.get("rows_loaded") and _table_exists(cur):
                    # every row rejected: this version of the file has nothing valid to keep
                    cur.execute(f"delete from {DATASET}.{RESOURCE} where source_file = %s",
                                (checked.file.rel,))
                _upsert(cur, checked, "loaded", run.run_id, loaded_at)
                run.add_count("files_loaded")
                run.add_count("rows_loaded", o.get("rows_loaded", 0))
                run.add_count("rows_rejected", o.get("rows_rejected", 0))
                report.files.append(_file_report(checked, "loaded"))
            for checked in refused:
                _upsert(cur, checked, "refused", run.run_id, loaded_at)
                report.files.append(_file_report(checked, "refused"))
            for checked in unchanged:
                cur.execute(f"update {DATASET}.files set checked_at = %s, status = 'loaded', message = null,"
                            " sha256 = loaded_sha256 where path = %s", (loaded_at, checked.file.rel))
                report.files.append(_file_report(checked, "unchanged"))
            if _table_exists(cur):
                cur.execute(DEDUP_VIEW)
                cur.execute(f"select count(*) - count(distinct (student_id, subject, completion_date))"
                            f" from {DATASET}.{RESOURCE}")
                report.duplicates_superseded = int(cur.fetchone()[0])
        run.add_count("duplicates_superseded", report.duplicates_superseded)
        report.files.sort(key=lambda r: r.path)
    return report


def _load_one(pipeline: Any, checked: Checked, run: SyncRun, loaded_at: datetime, chunk_rows: int,
              loaded_as_of: Any) -> str | None:
    """Load one file in its own dlt run (its rows replace the file's earlier rows in one
    transaction). Returns the refusal reason, or None when the file loaded. A refused file leaves
    nothing behind: its package is dropped and its row rejects are not kept."""
    rejects: list[tuple] = []

    def reject(_checked: Checked, line: int, column: str | None, reason: str, record: dict) -> None:
        rejects.append((reason, record, line, column))

    def done(c: Checked) -> None:
        if loaded_as_of and c.export_date and c.export_date < loaded_as_of:
            raise filedrop.FileRefused(
                f"older_export: this version is dated {c.export_date} in its name but the loaded one"
                f" {loaded_as_of}; the newer export is kept (rerun with --force to load it anyway)")
        o = c.outcome
        event(log, "file_read", run_id=run.run_id, file=c.file.rel, subject=c.file.subject,
              layout=c.header.layout if c.header else None,
              rows_valid=o.get("rows_loaded", 0), rows_rejected=o.get("rows_rejected", 0))

    source = iready([checked], reject, loaded_at, chunk_rows=chunk_rows, on_file_done=done)
    try:
        info = pipeline.run(source, loader_file_format="csv")
        info.raise_on_failed_jobs()
    except Exception as exc:
        if os.environ.get("SCHOOLDATA_DEBUG") == "1":
            raise
        with contextlib.suppress(Exception):
            filedrop.abort_packages(pipeline)
        refusal = filedrop.refusal_of(exc)
        if refusal is not None:
            return refusal.reason
        if filedrop.io_failure(exc) is not None or filedrop.database_failure(exc) is not None:
            # the source, the disk or the warehouse went away: stop the run, nothing is half-loaded
            raise LoadFailed(_safe_summary(exc)) from None
        return (f"unreadable: the file could not be loaded ({type(_root(exc)).__name__}); nothing of it was"
                " loaded; rerun with SCHOOLDATA_DEBUG=1 for details")
    for reason, record, line, column in rejects:
        run.reject(RESOURCE, reason, record, file_name=checked.file.rel, line_number=line, column_name=column)
    run.add_count("load_packages", len(info.loads_ids))
    return None


def _root(exc: BaseException) -> BaseException:
    root = exc
    while root.__cause__ is not None or (root.__context__ is not None and not root.__suppress_context__):
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    return root


LoadFailed = filedrop.LoadFailed


def _safe_summary(exc: BaseException) -> str:
    step = getattr(exc, "step", None)
    root = _root(exc)
    text = f"loading raw_iready failed at dlt step '{step or 'unknown'}': {type(root).__name__}"
    if isinstance(root, OSError) or type(root).__module__.startswith("psycopg2"):
        first = str(root).strip().splitlines()[0][:200] if str(root).strip() else ""
        text += f": {first}" if first else ""
    return text + ". Nothing was committed for the files of this run; rerun (SCHOOLDATA_DEBUG=1 for details)."


def _table_exists(cur) -> bool:
    cur.execute("select to_regclass(%s)", (f"{DATASET}.{RESOURCE}",))
    return cur.fetchone()[0] is not None


def _upsert(cur, checked: Checked, status: str, run_id: str, now: datetime) -> None:
    f, o = checked.file, checked.outcome
    loaded = status == "loaded"
    cur.execute(
        f"""insert into {DATASET}.files as r (path, sha256, loaded_sha256, size_bytes, modified_at,
                academic_year, subject, layout, rows_loaded, rows_rejected, status, message, run_id,
                loaded_at, checked_at, export_as_of, data_records)
            values (%(path)s, %(sha)s, %(loaded_sha)s, %(size)s, %(mtime)s, %(year)s, %(subject)s, %(layout)s,
                %(rows)s, %(rejected)s, %(status)s, %(message)s, %(run_id)s, %(loaded_at)s, %(now)s,
                %(as_of)s, %(records)s)
            on conflict (path) do update set sha256 = excluded.sha256,
                loaded_sha256 = coalesce(excluded.loaded_sha256, r.loaded_sha256),
                size_bytes = excluded.size_bytes, modified_at = excluded.modified_at,
                academic_year = excluded.academic_year, subject = excluded.subject,
                layout = coalesce(excluded.layout, r.layout),
                rows_loaded = case when %(loaded)s then excluded.rows_loaded else r.rows_loaded end,
                rows_rejected = case when %(loaded)s then excluded.rows_rejected else r.rows_rejected end,
                status = excluded.status, message = excluded.message, run_id = excluded.run_id,
                loaded_at = coalesce(excluded.loaded_at, r.loaded_at), checked_at = excluded.checked_at,
                export_as_of = coalesce(excluded.export_as_of, r.export_as_of),
                data_records = coalesce(excluded.data_records, r.data_records)""",
        {"path": f.rel, "sha": checked.sha256, "loaded_sha": checked.sha256 if loaded else None,
         "size": f.size, "mtime": f.modified_at, "year": _year(checked), "subject": f.subject,
         "layout": checked.header.layout if checked.header else None,
         "rows": o.get("rows_loaded") if loaded else None,
        "as_of": checked.export_date if loaded else None,
        "records": checked.scan.data_records if checked.scan else None,
         "rejected": o.get("rows_rejected") if loaded else None, "status": status,
         "message": checked.refused, "run_id": run_id, "loaded_at": now if loaded else None,
         "now": now, "loaded": loaded},
    )


def _file_report(checked: Checked, status: str) -> FileReport:
    o = checked.outcome
    return FileReport(checked.file.rel, status, checked.file.subject, _year(checked),
                      checked.header.layout if checked.header else None,
                      o.get("rows_loaded", 0) if status == "loaded" else 0,
                      o.get("rows_rejected", 0) if status == "loaded" else 0, checked.refused)


def _dry_run(fs: Any, files: list, report: RunReport, chunk_rows: int) -> RunReport:
    """Check files and rows without touching the warehouse."""
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            checked = check_file(fs, f, tmp)
            if not checked.refused:
                try:
                    for _ in read_rows(checked, lambda *a: None, chunk_rows=chunk_rows,
                                       loaded_at=datetime.now(UTC)):
                        pass
                except filedrop.FileRefused as exc:
                    checked.refused = exc.reason
            report.files.append(_file_report(checked, "refused" if checked.refused else "checked"))
            if checked.refused:
                report.files[-1].status = "refused"
            else:
                report.files[-1].rows_loaded = checked.outcome.get("rows_loaded", 0)
                report.files[-1].rows_rejected = checked.outcome.get("rows_rejected", 0)
    return report
