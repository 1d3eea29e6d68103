"""Land Aeries and i-Ready as plain Parquet in a folder (the "lake") for the Spark engine.

``SCHOOLDATA_DESTINATION=lake`` with ``LAKE_URL`` (a local folder, or any fsspec URL dlt's
``filesystem`` destination takes: ``s3://``, ``gs://``, ``abfss://``) and
``python -m dlt_pipelines lake aeries|iready``. Layout:
``<LAKE_URL>/<dataset>/<table>/<load_id>.<file_id>.parquet`` (``raw_aeries/students/...``);
dbt's ``register_lake_sources`` (on-run-start on Spark) points one Spark table at each folder.
See docs/scale.md.

Plain Parquet has no update, delete or merge, so everything is **append-only** and the rules
that Postgres applies on load are applied when the data is read:

* dimension tables (schools, students, ...): every load appends its rows with ``_loaded_at``;
  staging keeps the newest row per contract key, as it already does on Postgres;
* attendance: each fetched school/date window appends its day and period rows (tagged
  ``_window_key``) and one row in ``attendance_windows_incoming``; the Spark views
  ``attendance_days`` / ``attendance_periods`` keep, for every school and date, only the rows of
  the newest *complete* window covering that date (newest by ``as_of``, then ``_loaded_at``;
  complete = as many rows landed as were fetched). A date a later window left empty is therefore
  empty: the same replacement ``window_store.apply_pending`` does in one Postgres transaction;
* i-Ready: each loaded file appends its rows; the newest load of a ``source_file`` replaces its
  earlier loads, then the project's dedup rule picks one row per diagnostic.

Bookkeeping stays out of the lake: no ``ops.sync_runs`` or ``ops.load_rejects`` rows are written
(rejects are counted, never logged with their values), and every Aeries run fetches its whole
date range (no window state to resume from; plan a nightly run with ``--start-date`` a week back).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, date, datetime
from typing import Any

import dlt

from dlt_pipelines.common import at_rest
from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.logs import event, get_logger

log = get_logger("lake")

DESTINATION_ENV = "SCHOOLDATA_DESTINATION"
LAKE_URL_ENV = "LAKE_URL"


def lake_url() -> str:
    url = os.environ.get(LAKE_URL_ENV, "").strip()
    if not url:
        raise ConfigError(f"{LAKE_URL_ENV} is not set.",
                          f"export {LAKE_URL_ENV}=/data/lake (a folder, or s3://bucket/prefix).")
    if "://" not in url:
        url = os.path.abspath(url)
        os.makedirs(url, exist_ok=True)
    return url


def is_lake() -> bool:
    return os.environ.get(DESTINATION_ENV, "warehouse").strip().lower() == "lake"


def destination(url: str | None = None):
    return dlt.destinations.filesystem(bucket_url=url or lake_url())


def _pipeline(name: str, dataset: str, url: str | None):
    dlt.config["normalize.data_writer.disable_compression"] = False
    return at_rest.pipeline(f"{name}_lake", destination(url), dataset)


class _Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def reject(self, resource: str, reason: str, record: dict | None = None) -> None:
        # the record never leaves this function: only the count
        self.add(f"rejects_{resource}")


def run_aeries(start_date: date, end_date: date, *, url: str | None = None, rate_limit: float | None = 0,
               school_codes: list[int] | None = None, chunk_days: int = 30) -> dict[str, Any]:
    """Fetch Aeries for ``start_date..end_date`` and append it to the lake."""
    from dlt_pipelines.aeries import aeries
    from dlt_pipelines.aeries import settings as cfg
    from dlt_pipelines.aeries.pipeline import check_connection, select_schools
    from dlt_pipelines.aeries.windows import plan_windows

    settings = cfg.load_settings(rate_limit)
    counter = _Counter()
    pipe = _pipeline(cfg.PIPELINE_NAME, cfg.DATASET_NAME, url)
    from dlt_pipelines.aeries.client import AeriesClient

    with AeriesClient(settings, database_year=cfg.school_year_of(start_date)) as client:
        _info, schools_payload, today = check_connection(client)
        codes = select_schools(schools_payload, school_codes or [])
        windows = plan_windows(codes, start_date, end_date, today, chunk_days, 0, [], refetch=True)

        def failed(window, reason: str) -> None:
            raise ConfigError(f"Aeries window {window.school_code} {window.start}..{window.end} failed "
                              f"({reason}).", "rerun: a lake run fetches its whole range again.")

        source = aeries(client, codes, cfg.school_year_of(start_date), windows=windows, as_of=today,
                        run_id=f"lake-{datetime.now(UTC):%Y%m%dT%H%M%S}", schools_payload=schools_payload,
                        reject=counter.reject, count=counter.add, window_failed=failed)
        loaded_at = datetime.now(UTC)
        for name, resource in source.resources.items():
            resource.apply_hints(write_disposition="append", file_format="parquet")
            if name == "attendance":
                resource.add_map(_stamp(loaded_at))
        try:
            info = pipe.run(source, loader_file_format="parquet")
            info.raise_on_failed_jobs()
        finally:
            at_rest.purge_loaded(pipe)
    event(log, "lake_aeries_loaded", school_codes=codes, window_count=len(windows),
          **{f"rows_{k}": v for k, v in counter.counts.items()})
    return {"schools": codes, "windows": len(windows), **counter.counts}


def _stamp(loaded_at: datetime):
    """Attendance rows get ``_loaded_at`` (the dimension rows have it from the source)."""
    import pyarrow as pa

    def add(item):
        if isinstance(item, pa.Table):
            return item.append_column("_loaded_at", pa.repeat(pa.scalar(loaded_at, pa.timestamp("us", "UTC")),
                                                               item.num_rows))
        if isinstance(item, dict):
            return {**item, "_loaded_at": loaded_at}
        return item

    return add


def run_iready(source_url: str, *, url: str | None = None) -> dict[str, Any]:
    """Append every valid i-Ready export under ``source_url`` to the lake (refused files skipped)."""
    from dlt_pipelines.iready import DATASET, PIPELINE_NAME, iready
    from dlt_pipelines.iready.files import check_file, discover
    from dlt_pipelines.iready.pipeline import DLT_CONFIG

    for key, value in DLT_CONFIG.items():
        os.environ.setdefault(key.replace(PIPELINE_NAME.upper(), f"{PIPELINE_NAME}_lake".upper()), value)
    fs, files, _ignored = discover(source_url)
    counter = _Counter()
    pipe = _pipeline(PIPELINE_NAME, DATASET, url)
    loaded_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        checked = []
        for f in files:
            c = check_file(fs, f, tmp)
            if c.refused:
                counter.add("files_refused")
            else:
                checked.append(c)

        def reject(_checked, line, column, reason, record) -> None:
            counter.add("rows_rejected")

        source = iready(checked, reject, loaded_at)
        for resource in source.resources.values():
            resource.apply_hints(write_disposition="append")
        try:
            info = pipe.run(source, loader_file_format="parquet")
            info.raise_on_failed_jobs()
        finally:
            at_rest.purge_loaded(pipe)
    counter.add("files_loaded", len(checked))
    event(log, "lake_iready_loaded", **{f"n_{k}": v for k, v in counter.counts.items()})
    return counter.counts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines lake",
                                     description="land a source as Parquet under LAKE_URL (docs/scale.md)")
    sub = parser.add_subparsers(dest="source", required=True)
    a = sub.add_parser("aeries", help="Aeries SIS API -> <LAKE_URL>/raw_aeries")
    from dlt_pipelines.aeries import settings as cfg

    a.add_argument("--start-date", type=date.fromisoformat, default=cfg.DEFAULT_START)
    a.add_argument("--end-date", type=date.fromisoformat, default=cfg.DEFAULT_END)
    a.add_argument("--school-code", type=int, action="append", default=[])
    a.add_argument("--rate-limit", type=float, default=None)
    i = sub.add_parser("iready", help="i-Ready exports -> <LAKE_URL>/raw_iready")
    i.add_argument("--source-url", default=os.environ.get("IREADY_SOURCE_URL"))
    args = parser.parse_args(argv)
    if args.source == "aeries":
        summary = run_aeries(args.start_date, args.end_date, rate_limit=args.rate_limit,
                             school_codes=args.school_code)
    else:
        if not args.source_url:
            raise ConfigError("No i-Ready source folder.", "pass --source-url or set IREADY_SOURCE_URL.")
        summary = run_iready(args.source_url)
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0
