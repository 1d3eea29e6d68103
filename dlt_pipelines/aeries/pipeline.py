"""One Aeries run: check the connection, plan, load the dimensions, then fetch attendance in
batches of school/date windows, each batch landed by dlt and applied as a unit.

Resume: a run first loads any dlt package a crashed run left behind and applies landed
windows; :mod:`.windows` then plans only what is not settled, so completed chunks are not
downloaded again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date

import dlt
import psutil
import pyarrow as pa

from dlt_pipelines.common import at_rest
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.audit import SyncRun
from dlt_pipelines.common.errors import ConfigError, OperatorError
from dlt_pipelines.common.locks import source_lock
from dlt_pipelines.common.logs import event, get_logger

from . import aeries, window_store
from . import settings as cfg
from .client import AeriesClient
from .windows import Window, batches, plan_windows

log = get_logger("aeries")
_process = psutil.Process()


@dataclass
class RunOptions:
    start_date: date = cfg.DEFAULT_START
    end_date: date = cfg.DEFAULT_END
    school_codes: list[int] = field(default_factory=list)
    chunk_days: int = cfg.DEFAULT_CHUNK_DAYS
    lookback_days: int = cfg.DEFAULT_LOOKBACK_DAYS
    rate_limit: float | None = None
    resources: list[str] = field(default_factory=lambda: list(cfg.ALL_RESOURCES))
    dry_run: bool = False
    # fetch every date of the range again, settled or not (the weekly sweep; see .windows)
    refetch: bool = False
    # a window removing more than this share of a school's student-days is held back ...
    max_delete_share: float = window_store.DEFAULT_MAX_DELETE_SHARE
    # ... unless the operator confirms the deletions are real
    allow_mass_delete: bool = False

    def validate(self) -> None:
        if self.end_date < self.start_date:
            raise ConfigError(f"--end-date {self.end_date} is before --start-date {self.start_date}.",
                              "pass an end date on or after the start date.")
        if cfg.school_year_of(self.start_date) != cfg.school_year_of(self.end_date):
            raise ConfigError("--start-date and --end-date are in different school years.",
                              "run one school year at a time (July 1 to June 30).")
        if self.chunk_days < 1:
            raise ConfigError("--chunk-days must be at least 1.", "pass --chunk-days 30 (the default).")
        if self.lookback_days < 0:
            raise ConfigError("--lookback-days cannot be negative.", "pass --lookback-days 7 (the default).")
        if not 0 <= self.max_delete_share <= 1:
            raise ConfigError("--max-delete-share must be between 0 and 1.",
                              f"pass e.g. --max-delete-share {window_store.DEFAULT_MAX_DELETE_SHARE}.")
        unknown = set(self.resources) - set(cfg.ALL_RESOURCES)
        if unknown:
            raise ConfigError(f"Unknown resources: {', '.join(sorted(unknown))}.",
                              f"choose from {', '.join(cfg.ALL_RESOURCES)}.")

    def guard(self) -> window_store.DeleteGuard:
        return window_store.DeleteGuard(max_share=self.max_delete_share, allow=self.allow_mass_delete)

    def parameters(self) -> dict:
        params = asdict(self)
        params["resources"] = ",".join(self.resources)
        return params


@dataclass
class Plan:
    today: date
    schools: list[int]
    windows: list[Window]
    dimension_requests: int
    state_known: bool = True

    @property
    def requests(self) -> int:
        return self.dimension_requests + len(self.windows)

    def describe(self) -> dict:
        return {
            "server_date": self.today.isoformat(),
            "schools": self.schools,
            "chunks": len(self.windows),
            "first_chunk": [self.windows[0].start.isoformat(), self.windows[0].end.isoformat()]
            if self.windows else None,
            "last_chunk": [self.windows[-1].start.isoformat(), self.windows[-1].end.isoformat()]
            if self.windows else None,
            "requests": self.requests,
            **({} if self.state_known else {"note": "warehouse not reachable: plan assumes nothing loaded"}),
        }


def select_schools(schools: list[dict], wanted: list[int]) -> list[int]:
    """The requested schools, or every active school except the district record (0)."""
    codes = {s.get("SchoolCode") for s in schools if isinstance(s, dict)}
    if wanted:
        missing = sorted(set(wanted) - codes)
        if missing:
            raise ConfigError(f"School code(s) {', '.join(map(str, missing))} are not in this district.",
                              f"choose from {', '.join(str(c) for c in sorted(c for c in codes if c))}.")
        return sorted(set(wanted))
    return sorted(s["SchoolCode"] for s in schools
                  if isinstance(s, dict) and isinstance(s.get("SchoolCode"), int)
                  and s["SchoolCode"] > 0 and not (s.get("InactiveStatusCode") or "").strip())


def _dimension_requests(options: RunOptions, n_schools: int) -> int:
    per_school = sum(1 for r in options.resources if r in cfg.DIMENSION_RESOURCES and r != "schools")
    return 2 + per_school * n_schools  # systeminfo, schools, then one (or a page) per school and route


def make_plan(options: RunOptions, client: AeriesClient, warehouse: wh.Warehouse | None,
              schools_payload: list[dict], today: date) -> Plan:
    codes = select_schools(schools_payload, options.school_codes)
    windows: list[Window] = []
    state_known = True
    if cfg.ATTENDANCE_RESOURCE in options.resources:
        try:
            fetched = window_store.fetched_windows(warehouse, codes) if warehouse else []
            locked = window_store.locked_dates(warehouse, codes) if warehouse else {}
        except OperatorError:
            fetched, locked, state_known = [], {}, False
        windows = plan_windows(codes, options.start_date, options.end_date, today, options.chunk_days,
                               options.lookback_days, fetched, refetch=options.refetch, locked=locked)
    return Plan(today, codes, windows, _dimension_requests(options, len(codes)), state_known)


def open_client(options: RunOptions, settings: cfg.AeriesSettings | None = None) -> AeriesClient:
    settings = settings or cfg.load_settings(options.rate_limit)
    return AeriesClient(settings, database_year=cfg.school_year_of(options.start_date))


def check_connection(client: AeriesClient) -> tuple[dict, list[dict], date]:
    """systeminfo (proves the base URL) and the school list (proves the certificate)."""
    info = client.system_info()
    schools = client.schools()
    return info, schools, client.server_date(info) or date.today()


def dry_run(options: RunOptions) -> dict:
    """Check configuration, connectivity and the certificate; return the plan. Writes nothing."""
    options.validate()
    with open_client(options) as client:
        info, schools, today = check_connection(client)
        try:
            warehouse = wh.resolve(start_embedded=False)
        except OperatorError:
            warehouse = None
        plan = make_plan(options, client, warehouse, schools, today)
    return {"dry_run": True, "aeries_version": info.get("AeriesVersion"), **plan.describe()}


def run(options: RunOptions) -> dict:
    """A real run: settings are checked first, then every failure (a refused certificate
    included) is recorded as ``sync_fail`` in ``ops.sync_runs``."""
    options.validate()
    settings = cfg.load_settings(options.rate_limit)
    limit_memory_growth()
    warehouse = wh.resolve()
    school_year = cfg.school_year_of(options.start_date)
    with open_client(options, settings) as client, source_lock(warehouse, cfg.SOURCE_NAME, "Aeries"), \
            SyncRun(cfg.SOURCE_NAME, options.parameters(), warehouse) as sync:
        try:
            _info, schools_payload, today = check_connection(client)
            _run(options, client, warehouse, schools_payload, today, school_year, sync)
        finally:
            sync.requests, sync.retries = client.requests, client.retries
            for code, n in client.status_counts.items():
                sync.add_count(f"http_status_{code}", n)
    return sync.summary()


def _pipeline(warehouse: wh.Warehouse) -> dlt.Pipeline:
    # Load files are written once and read once, on the same machine: gzip only costs time, and
    # keeping a backfill's loaded files would fill the disk (and slow the next start) for nothing.
    # Completed jobs deleted and raw_aeries_staging truncated after each load: common/at_rest.py.
    dlt.config["normalize.data_writer.disable_compression"] = True
    return at_rest.pipeline(cfg.PIPELINE_NAME, wh.dlt_destination(warehouse), cfg.DATASET_NAME)


@dataclass
class _Trouble:
    """Windows a run could not apply: failed requests and held-back mass deletions."""
    failed: list[tuple[Window, str]] = field(default_factory=list)
    held_back: list[window_store.HeldBack] = field(default_factory=list)

    def raise_if_any(self) -> None:
        parts = []
        if self.failed:
            reasons = sorted({reason for _, reason in self.failed})
            parts.append(f"{len(self.failed)} attendance window(s) failed on every attempt "
                         f"({', '.join(reasons)}); nothing of them was deleted or replaced")
        if self.held_back:
            removed = sum(h.removed for h in self.held_back)
            held = sum(h.existing for h in self.held_back)
            parts.append(f"{len(self.held_back)} attendance window(s) held back: they would remove "
                         f"{removed} of the {held} student-days the warehouse holds for them "
                         f"(schools {', '.join(sorted({str(h.school_code) for h in self.held_back}))})")
        if parts:
            fix = "rerun once Aeries answers again: the other windows are kept and only these are fetched."
            if self.held_back:
                fix = ("check those schools and dates in Aeries; if the deletions are real (e.g. a day "
                       "taken off the calendar), rerun with --allow-mass-delete. " + fix)
            raise OperatorError("; ".join(parts) + ".", fix)


def _count_applied(sync: SyncRun, applied: window_store.ApplyResult, trouble: _Trouble) -> None:
    sync.add_count("attendance_days", applied.days)
    sync.add_count("attendance_periods", applied.periods)
    # rows new or changed since the last fetch (a re-fetched look-back repeats the rest)
    sync.add_count("attendance_days_written", applied.days_written)
    sync.add_count("attendance_periods_written", applied.periods_written)
    sync.add_count("attendance_windows", applied.windows)
    sync.add_count("attendance_days_deleted", applied.days_deleted)
    sync.add_count("attendance_periods_deleted", applied.periods_deleted)
    if applied.held_back:
        sync.add_count("attendance_windows_held_back", len(applied.held_back))
        trouble.held_back += applied.held_back


def _finish_pending(pipeline: dlt.Pipeline, warehouse: wh.Warehouse, sync: SyncRun,
                    guard: window_store.DeleteGuard, trouble: _Trouble) -> None:
    """Load what a crashed run extracted, then apply the windows that landed."""
    if pipeline.has_pending_data:
        event(log, "aeries_resume", run_id=sync.run_id,
              packages=len(pipeline.list_extracted_load_packages())
              + len(pipeline.list_normalized_load_packages()))
        pipeline.normalize()
        pipeline.load()
    applied = window_store.apply_pending(warehouse, guard)
    _count_applied(sync, applied, trouble)
    if applied.windows or applied.discarded:
        event(log, "aeries_resume_applied", run_id=sync.run_id, windows=applied.windows,
              discarded=applied.discarded, days=applied.days, periods=applied.periods,
              days_deleted=applied.days_deleted, periods_deleted=applied.periods_deleted)


def _run(options: RunOptions, client: AeriesClient, warehouse: wh.Warehouse, schools_payload: list[dict],
         today: date, school_year: int, sync: SyncRun) -> None:
    pipeline = _pipeline(warehouse)
    try:
        _run_pipeline(pipeline, options, client, warehouse, schools_payload, today, school_year, sync)
    finally:
        at_rest.purge_loaded(pipeline)


def _run_pipeline(pipeline: dlt.Pipeline, options: RunOptions, client: AeriesClient, warehouse: wh.Warehouse,
                  schools_payload: list[dict], today: date, school_year: int, sync: SyncRun) -> None:
    window_store.ensure_tables(warehouse)
    trouble = _Trouble()
    _finish_pending(pipeline, warehouse, sync, options.guard(), trouble)
    plan = make_plan(options, client, warehouse, schools_payload, today)
    event(log, "aeries_plan", run_id=sync.run_id, server_date=today, schools=plan.schools,
          chunks=len(plan.windows), requests=plan.requests)

    def window_failed(window: Window, reason: str) -> None:
        trouble.failed.append((window, reason))
        sync.add_count("attendance_windows_failed")
        event(log, "aeries_window_failed", logging.ERROR, run_id=sync.run_id, school_code=window.school_code,
              start_date=window.start, end_date=window.end, reason=reason)

    def source(**kwargs):
        return aeries(client, plan.schools, school_year, as_of=today, run_id=sync.run_id,
                      schools_payload=schools_payload, reject=sync.reject, count=sync.add_count,
                      window_failed=window_failed, **kwargs)

    # Attendance first: its Arrow buffers go back to the OS after each batch, while the dimension
    # rows (many small Python objects) leave the heap fragmented; in this order the peaks do not add.
    if plan.windows:
        _load_attendance(pipeline, warehouse, plan.windows, client, source, sync, options.guard(), trouble)
    dims = [r for r in options.resources if r in cfg.DIMENSION_RESOURCES]
    if dims:
        timer = _StepTimer()
        pipeline.extract(source().with_resources(*dims))
        timer.step("extract")
        pipeline.normalize()
        timer.step("normalize")
        pipeline.load()
        timer.step("load")
        event(log, "aeries_dimensions_loaded", run_id=sync.run_id, resources=dims,
              seconds=round(timer.spent, 2), **{r: sync.counts.get(r, 0) for r in dims})
        event(log, "aeries_dimensions_timing", logging.DEBUG, run_id=sync.run_id, **timer.fields)
    trouble.raise_if_any()


def limit_memory_growth() -> None:
    """Keep the resident set small on long backfills: Arrow buffers from the C library's malloc
    (freed pages go back instead of sitting in mimalloc's caches), at most two malloc arenas (the
    fetch thread would otherwise get its own) and a fixed mmap threshold so response-sized buffers
    are returned as soon as they are freed. Harmless where glibc is not the C library."""
    pa.set_memory_pool(pa.system_memory_pool())
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: big buffers are unmapped as soon as freed


def release_memory() -> None:
    """Hand freed heap pages back to the operating system after a batch."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _StepTimer:
    """Seconds and resident memory after each step of a batch (debug logs, tuning)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.spent = 0.0
        self.fields: dict[str, float] = {}

    def step(self, name: str) -> None:
        elapsed = time.monotonic() - self.t0
        self.fields[f"{name}_seconds"] = round(elapsed - self.spent, 2)
        self.fields[f"{name}_rss_mb"] = round(_process.memory_info().rss / 2**20)
        self.spent = elapsed


def _load_attendance(pipeline: dlt.Pipeline, warehouse: wh.Warehouse, windows: list[Window],
                     client: AeriesClient, source, sync: SyncRun, guard: window_store.DeleteGuard,
                     trouble: _Trouble) -> None:
    started = time.monotonic()
    done = days = periods = 0
    for batch in batches(windows, client.settings.windows_per_load):
        timer = _StepTimer()
        pipeline.extract(source(windows=batch).with_resources(cfg.ATTENDANCE_RESOURCE))
        timer.step("extract")
        pipeline.normalize()
        timer.step("normalize")
        pipeline.load()
        timer.step("load")
        applied = window_store.apply_pending(warehouse, guard)
        timer.step("apply")
        release_memory()
        event(log, "aeries_batch_timing", logging.DEBUG, run_id=sync.run_id, windows=len(batch),
              **timer.fields)
        done += applied.windows
        days += applied.days
        periods += applied.periods
        _count_applied(sync, applied, trouble)
        if applied.discarded:
            raise OperatorError(f"{applied.discarded} attendance window(s) did not land completely.",
                                "rerun: landed windows are kept and the rest is fetched again.")
        elapsed = time.monotonic() - started
        event(log, "aeries_progress", logging.INFO, run_id=sync.run_id, chunks_done=done,
              chunks_total=len(windows), through_date=max(w.end for w in batch),
              attendance_days=days, attendance_periods=periods, requests=client.requests,
              elapsed_seconds=round(elapsed, 1),
              records_per_second=round((days + periods) / elapsed) if elapsed else None)
