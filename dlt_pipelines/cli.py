"""``python -m dlt_pipelines <command>``: one entry point for every source and tool.

Each command lives in its own module with a ``main(argv) -> int``; this file only
dispatches and turns operator mistakes into one clear sentence instead of a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

from dlt_pipelines.common.at_rest import PRIVATE_UMASK
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import configure, redact
from dlt_pipelines.common.processes import Interrupted, maybe_die_with_parent

COMMANDS = {
    "aeries": ("dlt_pipelines.aeries.cli", "extract and load Aeries SIS"),
    "aeries-files": ("dlt_pipelines.aeries_files.cli", "load Aeries CSV exports (instead of the API)"),
    "iready": ("dlt_pipelines.iready.cli", "load i-Ready diagnostic exports"),
    "bakalari": ("dlt_pipelines.bakalari.cli", "sync the Bakalari roster"),
    "lake": ("dlt_pipelines.lake", "land Aeries or i-Ready as Parquet under LAKE_URL (the Spark engine)"),
    "db": ("dlt_pipelines.db_cli", "embedded Postgres: up, down, status, env; roles and grants"),
    "dbt": ("dlt_pipelines.dbt_runner", "run dbt against the resolved warehouse"),
    "nightly": ("dlt_pipelines.nightly", "cron each night: the configured sources, then dbt on what changed"),
    "weekly": ("dlt_pipelines.weekly", "cron on Sunday: the Aeries sweep, the sources, a full dbt build"),
    "simulate": ("dlt_pipelines.simulators.cli", "serve the synthetic district over HTTP"),
    "demo": ("dlt_pipelines.demo", "run everything end to end against the simulators"),
    "quality": ("dlt_pipelines.quality", "data-quality report: failing tests and rejects"),
    "pii-check": ("dlt_pipelines.pii_check", "PII inventory check of the dbt project (fails on a gap)"),
    "rejects": ("dlt_pipelines.rejects_cli", "decrypt rejected rows for an operator holding the key"),
    "serve": ("dlt_pipelines.ops_service.serve_cmd", "the operations service: sync API, webhooks, /metrics"),
    "tokens": ("dlt_pipelines.ops_service.tokens_cmd", "API tokens of the service: create, list, revoke"),
    "dead-letters": ("dlt_pipelines.ops_service.dead_letters_cmd", "webhook dead letters: list/replay/purge"),
    "dashboard": ("dlt_pipelines.dashboard.cli", "serve the analysts' dashboards on localhost (Streamlit)"),
}


def usage() -> str:
    lines = ["usage: python -m dlt_pipelines <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def run(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    configure()
    maybe_die_with_parent()
    # Files and folders a command creates (dlt packages, keys, dbt artefacts) are private: 0600/0700.
    old_umask = os.umask(PRIVATE_UMASK)
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(rest) or 0)
    except OperatorError as exc:
        return _operator_error(exc)
    except Interrupted as exc:
        print(f"{exc}: the child process ended with it", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SCHOOLDATA_DEBUG") == "1":
            raise
        cause = _operator_cause(exc)
        if cause is not None:  # e.g. raised inside a dlt resource and wrapped by dlt
            return _operator_error(cause)
        print(f"error: unexpected {type(exc).__name__}: {redact(str(exc))[:500]}", file=sys.stderr)
        print("fix: rerun with SCHOOLDATA_DEBUG=1 for the full traceback.", file=sys.stderr)
        return 1
    finally:
        os.umask(old_umask)


def _operator_error(exc: OperatorError) -> int:
    print(f"error: {redact(exc.message)}", file=sys.stderr)
    if exc.fix:
        print(f"fix: {redact(exc.fix)}", file=sys.stderr)
    return exc.exit_code


def _operator_cause(exc: BaseException) -> OperatorError | None:
    """The OperatorError a library wrapped (dlt wraps what a resource raises), if any."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OperatorError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None
