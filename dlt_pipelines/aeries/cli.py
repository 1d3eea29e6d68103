"""``python -m dlt_pipelines aeries``: load Aeries SIS into ``raw_aeries``.

Examples::

    python -m dlt_pipelines aeries --dry-run
    python -m dlt_pipelines aeries --school-code 101 102 --start-date 2024-08-15 --end-date 2025-06-12
    python -m dlt_pipelines aeries --rate-limit 0 --chunk-days 14 --lookback-days 10
    python -m dlt_pipelines aeries --refetch                 # the weekly sweep: the whole year again
    python -m dlt_pipelines aeries --refetch --start-date 2025-03-01 --end-date 2025-03-31
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from dlt_pipelines.common.errors import ConfigError

from . import settings as cfg
from . import window_store
from .pipeline import RunOptions, dry_run, run


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2024-08-15") from None


def _school_codes(values: list[str]) -> list[int]:
    codes = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ConfigError(f"--school-code {part!r} is not a school code.",
                                  "pass numbers, e.g. --school-code 101 102.")
            codes.append(int(part))
    return codes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dlt_pipelines aeries",
                                description="Extract Aeries SIS (API v5) and load it into raw_aeries.")
    p.add_argument("--start-date", type=_date, default=cfg.DEFAULT_START,
                   help=f"first attendance date (default {cfg.DEFAULT_START})")
    p.add_argument("--end-date", type=_date, default=cfg.DEFAULT_END,
                   help=f"last attendance date (default {cfg.DEFAULT_END}; never past the server's today)")
    p.add_argument("--school-code", nargs="+", default=[], metavar="CODE",
                   help="one or several school codes (default: every active school)")
    p.add_argument("--chunk-days", type=int, default=cfg.DEFAULT_CHUNK_DAYS,
                   help=f"days per attendance request (default {cfg.DEFAULT_CHUNK_DAYS})")
    p.add_argument("--lookback-days", type=int, default=cfg.DEFAULT_LOOKBACK_DAYS,
                   help="correction window: recent days fetched again on later runs "
                        f"(default {cfg.DEFAULT_LOOKBACK_DAYS})")
    p.add_argument("--rate-limit", type=float, default=None,
                   help=f"requests per minute (default {cfg.DEFAULT_RATE_LIMIT:g} or AERIES_RATE_LIMIT;"
                        " 0 = off)")
    p.add_argument("--resources", nargs="+", default=list(cfg.ALL_RESOURCES), choices=cfg.ALL_RESOURCES,
                   metavar="NAME", help=f"what to load (default all: {', '.join(cfg.ALL_RESOURCES)})")
    p.add_argument("--refetch", action="store_true",
                   help="fetch every date of --start-date..--end-date again, even dates already settled "
                        "today (late corrections; the weekly sweep). Months Aeries shows as locked and "
                        "already fetched locked are skipped")
    p.add_argument("--max-delete-share", type=float, default=window_store.DEFAULT_MAX_DELETE_SHARE,
                   metavar="SHARE",
                   help="hold back an attendance window that would remove more than this share of the "
                        f"student-days held for its school and dates (default "
                        f"{window_store.DEFAULT_MAX_DELETE_SHARE:g})")
    p.add_argument("--allow-mass-delete", action="store_true",
                   help="apply held-back windows: the deletions are real (e.g. a day taken off the calendar)")
    p.add_argument("--dry-run", action="store_true",
                   help="check configuration, connectivity and the certificate, print the plan, "
                        "write nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.rate_limit is not None and args.rate_limit < 0:
        raise ConfigError("--rate-limit cannot be negative.", "pass 0 to switch it off, or e.g. 60.")
    options = RunOptions(
        start_date=args.start_date, end_date=args.end_date, school_codes=_school_codes(args.school_code),
        chunk_days=args.chunk_days, lookback_days=args.lookback_days, rate_limit=args.rate_limit,
        resources=list(dict.fromkeys(args.resources)), dry_run=args.dry_run, refetch=args.refetch,
        max_delete_share=args.max_delete_share, allow_mass_delete=args.allow_mass_delete,
    )
    summary = dry_run(options) if args.dry_run else run(options)
    print(json.dumps(summary, default=str, indent=2), file=sys.stdout)
    return 0
