"""``python -m dlt_pipelines bakalari``: sync the Bakaláři roster now.

Prints one JSON summary on stdout (run id, started, completed, duration, per-entity
created/updated/unchanged/deleted counts); logs go to stderr as JSON lines. Exit status:
0 ok, 1 unexpected error, 2 operator error (message and fix on stderr), 3 another sync holds
the lock.
"""

from __future__ import annotations

import argparse
import json

from .pipeline import sync
from .settings import BakalariSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlt_pipelines bakalari",
        description="Sync the roster (classes, groups, subjects, teachers, rooms, students, "
                    "enrollments) from Bakaláři API v3 into raw_bakalari. The password comes only "
                    "from BAKALARI_PASSWORD or .dlt/secrets.toml.")
    parser.add_argument("--base-url", help="school's Bakaláři address (default: BAKALARI_BASE_URL)")
    parser.add_argument("--username", help="sync account (default: BAKALARI_USERNAME)")
    parser.add_argument("--requests-per-minute", type=float, default=None,
                        help="request rate limit, 0 = off (default: BAKALARI_REQUESTS_PER_MINUTE or 300)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read and compare, report the counts, write nothing to raw_bakalari")
    parser.add_argument("--allow-empty", action="store_true",
                        help="accept an entity coming back empty (marks all its rows deleted)")
    args = parser.parse_args(argv)
    settings = BakalariSettings.resolve(args.base_url, args.username, args.requests_per_minute)

    def emit(summary: dict) -> None:
        print(json.dumps(summary, ensure_ascii=False), flush=True)

    summary = sync(settings, dry_run=args.dry_run, allow_empty=args.allow_empty, emit=emit)
    return 0 if summary.get("status") == "sync_ok" else 1
