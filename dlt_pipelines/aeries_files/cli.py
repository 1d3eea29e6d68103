"""``python -m dlt_pipelines aeries-files``: load Aeries CSV exports into raw_aeries.

Exit status: 0 when the run finished (refused files are listed in the report, in
raw_aeries.export_files and ops.load_rejects), 1 with ``--strict`` when a file was refused or
when the source or the warehouse failed mid-run, 2 for an operator mistake (no source URL,
unreachable source, no exports found), 3 when another Aeries run holds the lock.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from dlt_pipelines.aeries import window_store
from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.settings import env

from .pipeline import Options, RunReport, run


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2024-08-15") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dlt_pipelines aeries-files",
                                description="Load Aeries CSV exports (ATT, STU, ENR, ABS, LOC, DAY, AHS) "
                                            "into raw_aeries, like the API path.")
    p.add_argument("--source-url", default=env("AERIES_EXPORT_URL"),
                   help="folder or fsspec URL holding the exports, e.g. /data/aeries or "
                        "sftp://user@host/aeries (default: $AERIES_EXPORT_URL)")
    p.add_argument("--start-date", type=_date, default=None,
                   help="first date the attendance exports cover (default: each school's first date in the "
                        "file); dates before it are rejected")
    p.add_argument("--end-date", type=_date, default=None,
                   help="last date the attendance exports cover (default: the last date in the file)")
    p.add_argument("--force", action="store_true",
                   help="load every valid file even if unchanged, or older than what is loaded")
    p.add_argument("--max-delete-share", type=float, default=window_store.DEFAULT_MAX_DELETE_SHARE,
                   metavar="SHARE", help="hold back an attendance export that would remove more than this "
                                         "share of the student-days held for its school and dates")
    p.add_argument("--allow-mass-delete", action="store_true",
                   help="apply such exports: the deletions are real")
    p.add_argument("--dry-run", action="store_true",
                   help="check files and rows, print the report, write nothing")
    p.add_argument("--strict", action="store_true", help="exit 1 when any file was refused")
    p.add_argument("--chunk-rows", type=int, default=5_000, help=argparse.SUPPRESS)
    return p


def print_report(report: RunReport, out=None) -> None:
    out = out or sys.stdout
    print(f"Aeries exports: {report.source}" + (f"  run: {report.run_id}" if report.run_id else ""), file=out)
    for f in report.files:
        rows = ""
        if f.status in ("loaded", "checked"):
            rows = f"{f.rows_loaded:>8,} rows  {f.rows_rejected:>6,} rejected"
        print(f"  {f.status:<9} {f.path:<56} {f.table:<4} {f.layout or '':<7} {rows}", file=out)
        if f.message:
            print(f"            {f.message}", file=out)
    print(f"files: {report.count('loaded')} loaded, {report.count('unchanged')} unchanged, "
          f"{report.count('refused')} refused, {report.count('checked')} checked, "
          f"{len(report.ignored)} ignored; "
          f"rows: {report.rows_loaded:,} loaded, {report.rows_rejected:,} rejected", file=out)
    if report.rows_rejected or report.count("refused"):
        print("details: raw_aeries.export_files (per file) and ops.load_rejects (per line, source "
              "'aeries_files')", file=out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.source_url:
        raise ConfigError("No Aeries export folder given.",
                          "pass --source-url PATH_OR_URL or set AERIES_EXPORT_URL.")
    if not 0 <= args.max_delete_share <= 1:
        raise ConfigError("--max-delete-share must be between 0 and 1.", "pass e.g. --max-delete-share 0.5.")
    report = run(Options(args.source_url, args.start_date, args.end_date, args.force, args.dry_run,
                         args.max_delete_share, args.allow_mass_delete, args.chunk_rows))
    print_report(report)
    return 1 if args.strict and report.count("refused") else 0
