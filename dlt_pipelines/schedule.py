"""What cron runs: ``python -m dlt_pipelines nightly`` and ``weekly`` (``make nightly`` /
``make weekly``).

Both load the deployment's configured sources (:mod:`dlt_pipelines.common.deployment`), one
after the other, each under its own run lock; a source that fails does not stop the others.
Then dbt builds what the deployment has:

* **nightly**: Aeries (the new day and the correction lookback; or the new CSV exports when
  only ``AERIES_EXPORT_URL`` is set), i-Ready, Bakaláři; then
  ``dbt source freshness`` and a build of only what changed, ``--select source_status:fresher+``
  against the previous night's freshness (kept in ``<local dir>/dbt-state``), with the nightly
  vars (attendance tests over the correction window). The first night, or a night after the
  deployment's sources changed, builds everything.
* **weekly**: the Aeries sweep (``--refetch``: the year again, for late corrections), i-Ready,
  Bakaláři, then ``dbt build --full-refresh``, testing every date.

Exit status: 0 when every source and dbt succeeded; otherwise the first failure's status (2 an
operator error, 3 a source's lock held by another run, 1 unexpected, dbt's own status). A
Bakaláři sync that finds the 15-minute sync running is skipped, not failed. One JSON summary
goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dlt_pipelines.common import deployment, settings
from dlt_pipelines.common.errors import ConfigError, LockBusyError, OperatorError
from dlt_pipelines.common.logs import event, get_logger, redact

log = get_logger("schedule")

NIGHTLY_VARS = "{attendance_tests_window_days: 8}"


def _aeries(mode: str) -> int:
    if deployment.aeries_via_exports():  # a district without an API certificate (docs/aeries-csv.md)
        from dlt_pipelines.aeries_files import cli as files_cli

        return files_cli.main([])
    from dlt_pipelines.aeries import cli

    return cli.main(["--refetch"] if mode == "weekly" else [])


def _iready(mode: str) -> int:
    from dlt_pipelines.iready import cli

    return cli.main([])


def _bakalari(mode: str) -> int:
    from dlt_pipelines.bakalari import cli

    return cli.main([])


RUNNERS: dict[str, Callable[[str], int]] = {"aeries": _aeries, "iready": _iready, "bakalari": _bakalari}


def _run_source(name: str, mode: str) -> dict:
    started = time.monotonic()
    try:
        status, note = RUNNERS[name](mode), None
    except LockBusyError as exc:
        status, note = (0 if name == "bakalari" else exc.exit_code), f"skipped: {exc.message}"
    except OperatorError as exc:
        status, note = exc.exit_code, exc.message
    except Exception as exc:  # one source's bug must not stop the others; the status says so
        status, note = 1, f"unexpected {type(exc).__name__}: {str(exc)[:300]}"
    result = {"source": name, "exit_status": status, "seconds": round(time.monotonic() - started, 1)}
    if note:
        result["note"] = redact(note)
    event(log, "schedule_source", logging.INFO if status == 0 else logging.ERROR, mode=mode, **result)
    return result


def state_dir() -> Path:
    return settings.local_dir() / "dbt-state"


def _save_state(sources_key: str) -> None:
    """Keep this build's manifest and freshness as the next night's comparison point."""
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "sources.json"):
        if (settings.dbt_target_dir() / name).exists():
            shutil.copy2(settings.dbt_target_dir() / name, state / name)
    (state / "deployment_sources.txt").write_text(sources_key)


def _has_state(sources_key: str) -> bool:
    state = state_dir()
    marker = state / "deployment_sources.txt"
    return (state / "sources.json").exists() and (state / "manifest.json").exists() \
        and marker.exists() and marker.read_text() == sources_key


def _dbt(mode: str) -> dict:
    from dlt_pipelines.dbt_runner import dbt_env, run_dbt

    sources_key = dbt_env().get(deployment.DBT_ENV, ",".join(deployment.ALL_SOURCES))
    os.environ[deployment.DBT_ENV] = sources_key  # the same list for every dbt call of this run
    started = time.monotonic()
    # the same --vars in every call of the night, or dbt re-parses the project each time
    same_vars = [] if mode == "weekly" else ["--vars", NIGHTLY_VARS]
    freshness = run_dbt(["source", "freshness", *same_vars]).returncode  # writes target/sources.json
    if mode == "weekly":
        args = ["build", "--full-refresh"]
        selection = "everything, full refresh"
    elif _has_state(sources_key):
        args = ["build", "--select", "source_status:fresher+", "--state", str(state_dir()),
                "--vars", NIGHTLY_VARS]
        selection = "source_status:fresher+"
    else:
        args = ["build", "--vars", NIGHTLY_VARS]
        selection = "everything (no earlier state for these sources)"
    status = run_dbt(args).returncode
    if status == 0:
        _save_state(sources_key)
    result = {"dbt_sources": sources_key, "selection": selection, "freshness_exit_status": freshness,
              "exit_status": status, "seconds": round(time.monotonic() - started, 1)}
    event(log, "schedule_dbt", logging.INFO if status == 0 else logging.ERROR, mode=mode, **result)
    return result


def run(mode: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m dlt_pipelines {mode}",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-dbt", action="store_true", help="load the sources only")
    args = parser.parse_args(argv)
    sources = deployment.configured_sources()
    if not sources:
        raise ConfigError("No source is configured for this deployment.",
                          "set AERIES_BASE_URL (or AERIES_EXPORT_URL), IREADY_SOURCE_URL and/or "
                          "BAKALARI_BASE_URL (README), or SCHOOLDATA_SOURCES=aeries,iready,bakalari.")
    started = time.monotonic()
    event(log, "schedule_start", mode=mode, sources=",".join(sources))
    results = [_run_source(name, mode) for name in sources]
    summary: dict = {"mode": mode, "sources": results}
    if not args.skip_dbt:
        summary["dbt"] = _dbt(mode)
    failures = [r["exit_status"] for r in results if r["exit_status"]]
    if "dbt" in summary and summary["dbt"]["exit_status"]:
        failures.append(summary["dbt"]["exit_status"])
    summary["exit_status"] = failures[0] if failures else 0
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary, indent=2), file=sys.stdout, flush=True)
    event(log, "schedule_end", logging.INFO if not failures else logging.ERROR, mode=mode,
          exit_status=summary["exit_status"], seconds=summary["seconds"])
    return summary["exit_status"]
