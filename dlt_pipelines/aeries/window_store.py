"""Replace attendance school/date windows as a unit, and remember which windows are done.

dlt lands each fetched window's rows in ``raw_aeries.attendance_*_incoming`` (append) together
with one row in ``attendance_windows_incoming`` describing the window. :func:`apply_pending`
then, in ONE transaction:

1. deletes every row of ``attendance_days`` / ``attendance_periods`` whose school and date fall
   in a pending window (by date range, so a date whose only absence was cleared is emptied too);
2. inserts the window's fresh rows;
3. records the window in ``ops.aeries_attendance_windows`` (the chunk-completion state);
4. empties the incoming tables.

A crash before the commit leaves the previous data and state untouched; the next run loads any
pending dlt package, applies what landed, and re-plans the rest. A window whose landed row
count does not match what was fetched (a partial load) is discarded and fetched again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from psycopg2.extras import execute_values

from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.logs import event, get_logger

from .settings import DATASET_NAME
from .windows import FetchedWindow

DAYS = f"{DATASET_NAME}.attendance_days"
PERIODS = f"{DATASET_NAME}.attendance_periods"
DAYS_IN = f"{DATASET_NAME}.attendance_days_incoming"
PERIODS_IN = f"{DATASET_NAME}.attendance_periods_incoming"
WINDOWS_IN = f"{DATASET_NAME}.attendance_windows_incoming"
STATE = "ops.aeries_attendance_windows"

DDL = f"""
create schema if not exists {DATASET_NAME};
create schema if not exists ops;
create table if not exists {DAYS} (
    school_code bigint not null,
    student_id bigint not null,
    calendar_date date not null,
    all_day_attendance_code text not null default '',
    _loaded_at timestamptz not null,
    _dlt_load_id text not null
);
create index if not exists attendance_days_window_idx on {DAYS} (school_code, calendar_date);
-- dbt's incremental attendance models look up the dates loaded since their last build
create index if not exists attendance_days_loaded_idx on {DAYS} (_loaded_at, calendar_date);
create table if not exists {PERIODS} (
    school_code bigint not null,
    student_id bigint not null,
    calendar_date date not null,
    period text not null,
    section_number bigint,
    attendance_code text not null default '',
    _loaded_at timestamptz not null,
    _dlt_load_id text not null
);
create index if not exists attendance_periods_window_idx on {PERIODS} (school_code, calendar_date);
create index if not exists attendance_periods_loaded_idx on {PERIODS} (_loaded_at, calendar_date);
create table if not exists {STATE} (
    window_key bigint primary key,
    school_code bigint not null,
    start_date date not null,
    end_date date not null,
    as_of date not null,
    run_id text not null,
    days integer not null,
    periods integer not null,
    applied_at timestamptz not null default now()
);
create index if not exists aeries_attendance_windows_school_idx on {STATE} (school_code, end_date);
"""

log = get_logger("aeries")


@dataclass
class ApplyResult:
    windows: int = 0
    days: int = 0
    periods: int = 0
    discarded: int = 0


def ensure_tables(warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('aeries.ddl'))")
        cur.execute(DDL)


def fetched_windows(warehouse: wh.Warehouse | None = None,
                    school_codes: list[int] | None = None) -> list[FetchedWindow]:
    """Completed windows (the chunk state), for planning."""
    with wh.cursor(warehouse) as cur:
        cur.execute("select to_regclass(%s)", (STATE,))
        if cur.fetchone()[0] is None:
            return []
        cur.execute(
            f"select school_code, start_date, end_date, as_of from {STATE}"
            " where %(all)s or school_code = any(%(codes)s)",
            {"all": not school_codes, "codes": list(school_codes or [])},
        )
        return [FetchedWindow(int(s), a, b, o) for s, a, b, o in cur.fetchall()]


def _exists(cur, name: str) -> bool:
    cur.execute("select to_regclass(%s)", (name,))
    return cur.fetchone()[0] is not None


def _counts(cur, table: str) -> dict[int, int]:
    if not _exists(cur, table):
        return {}
    cur.execute(f"select _window_key, count(*) from {table} group by 1")
    return {int(k): int(n) for k, n in cur.fetchall()}


def _pick(pending: list[tuple], days: dict[int, int], periods: dict[int, int]) -> tuple[list, list]:
    """Windows whose rows all landed and that no later pending window of the school overlaps."""
    good, bad = [], []
    for row in pending:
        key, _school, _start, _end, _as_of, _run, n_days, n_periods, _load = row
        # More rows than fetched (a replayed load job) is fine: the insert keeps one copy.
        if days.get(key, 0) < n_days or periods.get(key, 0) < n_periods:
            bad.append(row)
        else:
            good.append(row)
    kept: list[tuple] = []
    for row in sorted(good, key=lambda r: (r[4], r[0]), reverse=True):  # newest as_of wins
        if any(o[1] == row[1] and o[2] <= row[3] and row[2] <= o[3] for o in kept):
            bad.append(row)
        else:
            kept.append(row)
    return kept, bad


def apply_pending(warehouse: wh.Warehouse | None = None) -> ApplyResult:
    """Move every fully landed window into the attendance tables (see the module doc)."""
    result = ApplyResult()
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('aeries.apply'))")
        if not _exists(cur, WINDOWS_IN):
            return result
        cur.execute(f"select window_key, school_code, start_date, end_date, as_of, run_id, days, periods,"
                    f" _dlt_load_id from {WINDOWS_IN}")
        pending = cur.fetchall()
        if not pending:
            _empty_incoming(cur)
            return result
        day_counts, period_counts = _counts(cur, DAYS_IN), _counts(cur, PERIODS_IN)
        good, bad = _pick(pending, day_counts, period_counts)
        # More rows than fetched only happens when dlt replayed a load job: keep one copy.
        replayed = any(day_counts.get(r[0], 0) > r[6] or period_counts.get(r[0], 0) > r[7] for r in good)
        distinct = "distinct " if replayed else ""
        for row in bad:
            event(log, "aeries_window_discarded", logging.WARNING, school_code=row[1],
                  start_date=row[2], end_date=row[3], reason="incomplete or superseded load")
        result.discarded = len(bad)
        if good:
            cur.execute("create temp table _aeries_apply (window_key bigint primary key, school_code bigint,"
                        " start_date date, end_date date, as_of date, run_id text, days integer,"
                        " periods integer, load_id text) on commit drop")
            execute_values(cur, "insert into _aeries_apply values %s", good)
            cur.execute("analyze _aeries_apply")
            for table in (DAYS, PERIODS):
                cur.execute(f"delete from {table} t using _aeries_apply w where t.school_code = w.school_code"
                            " and t.calendar_date between w.start_date and w.end_date")
            if _exists(cur, DAYS_IN):
                cur.execute(
                    f"insert into {DAYS} (school_code, student_id, calendar_date, all_day_attendance_code,"
                    " _loaded_at, _dlt_load_id)"
                    f" select {distinct}i.school_code, i.student_id, i.calendar_date,"
                    " coalesce(i.all_day_attendance_code, ''), now(), w.load_id"
                    f" from {DAYS_IN} i join _aeries_apply w on w.window_key = i._window_key")
                result.days = cur.rowcount
            if _exists(cur, PERIODS_IN):
                cur.execute(
                    f"insert into {PERIODS} (school_code, student_id, calendar_date, period, section_number,"
                    " attendance_code, _loaded_at, _dlt_load_id)"
                    f" select {distinct}i.school_code, i.student_id, i.calendar_date, i.period,"
                    " i.section_number,"
                    " coalesce(i.attendance_code, ''), now(), w.load_id"
                    f" from {PERIODS_IN} i join _aeries_apply w on w.window_key = i._window_key")
                result.periods = cur.rowcount
            cur.execute(f"insert into {STATE} (window_key, school_code, start_date, end_date, as_of, run_id,"
                        " days, periods) select window_key, school_code, start_date, end_date, as_of, run_id,"
                        " days, periods from _aeries_apply on conflict (window_key) do nothing")
            result.windows = len(good)
        _empty_incoming(cur)
    return result


def _empty_incoming(cur) -> None:
    tables = [t for t in (DAYS_IN, PERIODS_IN, WINDOWS_IN) if _exists(cur, t)]
    if tables:
        cur.execute(f"truncate {', '.join(tables)}")
