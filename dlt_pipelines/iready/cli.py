"""``python -m dlt_pipelines iready``: load i-Ready diagnostic exports into raw_iready.

Exit status: 0 when the run finished (refused files are listed in the report and in
raw_iready.files / ops.load_rejects), 1 with ``--strict`` when a file was refused,
2 for an operator mistake (no source URL, unreachable source, no exports found).
"""

from __future__ import annotations

import argparse
import sys

from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.settings import env

from .pipeline import RunReport, run_iready


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines iready",
                                     description="Load i-Ready Diagnostic Results exports into raw_iready.")
    parser.add_argument("--source-url", default=env("IREADY_SOURCE_URL"),
                        help="folder or fsspec URL holding the exports, e.g. /data/iready or "
                             "sftp://user@host/exports (default: $IREADY_SOURCE_URL)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check files and rows and print the report; write nothing")
    parser.add_argument("--force", action="store_true",
                        help="reload every valid file even if unchanged since its last load")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any file was refused")
    parser.add_argument("--chunk-rows", type=int, default=5_000, help=argparse.SUPPRESS)
    return parser


def print_report(report: RunReport, out=None) -> None:
    out = out or sys.stdout
    print(f"i-Ready source: {report.source}" + (f"  run: {report.run_id}" if report.run_id else ""), file=out)
    for f in report.files:
        rows = ""
        if f.status in ("loaded", "checked"):
            rows = f"{f.rows_loaded:>8,} rows  {f.rows_rejected:>6,} rejected"
        print(f"  {f.status:<9} {f.path:<64} {f.layout or '':<11} {rows}", file=out)
        if f.message:
            print(f"            {f.message}", file=out)
    print(f"files: {report.count('loaded')} loaded, {report.count('unchanged')} unchanged, "
          f"{report.count('refused')} refused, {report.count('checked')} checked, "
          f"{len(report.ignored)} ignored; "
          f"rows: {report.rows_loaded:,} loaded, {report.rows_rejected:,} rejected; "
          f"duplicates superseded by newer files: {report.duplicates_superseded:,}", file=out)
    if report.rows_rejected or report.count("refused"):
        print("details: raw_iready.files (per file) and ops.load_rejects (per line, source 'iready')",
              file=out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.source_url:
        raise ConfigError("No i-Ready source given.",
                          "pass --source-url PATH_OR_URL or set IREADY_SOURCE_URL.")
    report = run_iready(args.source_url, dry_run=args.dry_run, force=args.force,
                        chunk_rows=args.chunk_rows)
    print_report(report)
    return 1 if args.strict and report.count("refused") else 0
