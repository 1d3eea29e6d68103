"""Replace attendance school/date windows as a unit, and remember which windows are done.

dlt lands each fetched window's rows in ``raw_aeries.attendance_*_incoming`` (append) together
with one row in ``attendance_windows_incoming`` describing the window. :func:`apply_pending`
then, in ONE transaction:

1. counts what each window would remove (student-days held now and missing from the new answer)
   and holds back a window that would remove more than a set share (:class:`DeleteGuard`);
2. makes ``attendance_days`` / ``attendance_periods`` hold, for every school and date of a
   pending window, exactly the window's fresh rows (by date range, so a date whose only absence
   was cleared is emptied too), writing only the difference: held rows the answer lacks are
   deleted, answer rows not held are inserted, and a row the answer repeats keeps its
   ``_loaded_at``. ``_loaded_at`` is thus when a row's content arrived, and a night that
   re-fetches its look-back writes what changed, not the window;
3. logs every student-day that lost a row in ``attendance_removals`` (a cleared absence leaves no
   row behind to carry a load time): with the rows loaded since, the student-days dbt rebuilds;
4. records the window in ``ops.aeries_attendance_windows`` (the chunk-completion state);
5. empties the incoming tables.

Only a 200 with a JSON array reaches this module (see :mod:`.client`): a failed request lands
nothing, so it can never empty a window.

A crash before the commit leaves the previous data and state untouched; the next run loads any
pending dlt package, applies what landed, and re-plans the rest. A window whose landed row
count does not match what was fetched (a partial load) is discarded and fetched again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from psycopg2.extras import execute_values

from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.logs import event, get_logger

from .events import DDL as EVENTS_DDL
from .settings import DATASET_NAME
from .windows import FetchedWindow

DAYS = f"{DATASET_NAME}.attendance_days"
PERIODS = f"{DATASET_NAME}.attendance_periods"
DAYS_IN = f"{DATASET_NAME}.attendance_days_incoming"
PERIODS_IN = f"{DATASET_NAME}.attendance_periods_incoming"
WINDOWS_IN = f"{DATASET_NAME}.attendance_windows_incoming"
REMOVALS = f"{DATASET_NAME}.attendance_removals"
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
-- a window's rows (school and dates), and a student-day's (dbt rebuilds changed student-days)
create index if not exists attendance_days_key_idx on {DAYS} (school_code, calendar_date, student_id);
drop index if exists {DATASET_NAME}.attendance_days_window_idx;
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
create index if not exists attendance_periods_key_idx on {PERIODS} (school_code, calendar_date, student_id);
drop index if exists {DATASET_NAME}.attendance_periods_window_idx;
create index if not exists attendance_periods_loaded_idx on {PERIODS} (_loaded_at, calendar_date);
-- student-days that lost a day row or a period mark, and when (dbt rebuilds them)
create table if not exists {REMOVALS} (
    school_code bigint not null,
    student_id bigint not null,
    calendar_date date not null,
    _loaded_at timestamptz not null
);
create index if not exists attendance_removals_loaded_idx on {REMOVALS} (_loaded_at, calendar_date);
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
-- final: fetched when the attendance month was already locked in Aeries (never refetched)
alter table {STATE} add column if not exists final boolean not null default false;
create index if not exists aeries_attendance_windows_school_idx on {STATE} (school_code, end_date);
-- dbt's incremental attendance models rebuild every window applied since their newest row
create index if not exists aeries_attendance_windows_applied_idx on {STATE} (applied_at);
"""

# A row's content, compared whole when a window is replaced: column -> how the incoming row gives it
_KEY = {"school_code": "i.school_code", "student_id": "i.student_id", "calendar_date": "i.calendar_date"}
DAY_COLUMNS = {**_KEY, "all_day_attendance_code": "coalesce(i.all_day_attendance_code, '')"}
PERIOD_COLUMNS = {**_KEY, "period": "i.period", "section_number": "i.section_number",
                  "attendance_code": "coalesce(i.attendance_code, '')"}
NULLABLE = {"section_number"}

# A window may remove at most this share of the student-days the warehouse holds for its school
# and dates (docs/aeries.md, "Deletes"); beyond it the window is held back unless allowed.
DEFAULT_MAX_DELETE_SHARE = 0.5
DEFAULT_MIN_DELETE_ROWS = 20

log = get_logger("aeries")


@dataclass
class HeldBack:
    """A window not applied because it would remove too much of what the warehouse holds."""
    school_code: int
    start_date: object
    end_date: object
    existing: int
    removed: int


@dataclass
class ApplyResult:
    windows: int = 0
    days: int = 0
    periods: int = 0
    discarded: int = 0
    days_written: int = 0      # rows of the answer not held before (new or changed), so inserted
    periods_written: int = 0
    days_deleted: int = 0      # student-days held before and absent from the new answer
    periods_deleted: int = 0   # period marks likewise
    held_back: list[HeldBack] = field(default_factory=list)


@dataclass(frozen=True)
class DeleteGuard:
    """A window that would remove more than ``max_share`` of the school's student-days it
    replaces (and at least ``min_rows`` of them) is held back, unless ``allow`` is set."""
    max_share: float = DEFAULT_MAX_DELETE_SHARE
    min_rows: int = DEFAULT_MIN_DELETE_ROWS
    allow: bool = False

    def holds(self, existing: int, removed: int) -> bool:
        return (not self.allow and removed >= self.min_rows and existing > 0
                and removed > self.max_share * existing)


def ensure_tables(warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('aeries.ddl'))")
        cur.execute(DDL)
        cur.execute(EVENTS_DDL)  # the webhook's events table, so the live model always finds it


def fetched_windows(warehouse: wh.Warehouse | None = None,
                    school_codes: list[int] | None = None) -> list[FetchedWindow]:
    """Completed windows (the chunk state), for planning."""
    with wh.cursor(warehouse) as cur:
        cur.execute("select to_regclass(%s)", (STATE,))
        if cur.fetchone()[0] is None:
            return []
        cur.execute(
            f"select school_code, start_date, end_date, as_of, final from {STATE}"
            " where %(all)s or school_code = any(%(codes)s)",
            {"all": not school_codes, "codes": list(school_codes or [])},
        )
        return [FetchedWindow(int(s), a, b, o, bool(f)) for s, a, b, o, f in cur.fetchall()]


def locked_dates(warehouse: wh.Warehouse | None = None,
                 school_codes: list[int] | None = None) -> dict[int, set[date]]:
    """Per school, the dates of attendance months Aeries shows as locked (from the last calendar
    load; a day stale at most, and locks only grow, so staleness only costs a refetch). Days
    between two locked calendar days (weekends) count as locked too."""
    with wh.cursor(warehouse) as cur:
        cur.execute("select 1 from information_schema.columns where table_schema = %s"
                    " and table_name = 'calendar' and column_name = 'attendance_month_locked'",
                    (DATASET_NAME,))
        if cur.fetchone() is None:
            return {}
        cur.execute(
            f"select school_code, calendar_date::date, coalesce(attendance_month_locked, false)"
            f" from {DATASET_NAME}.calendar where %(all)s or school_code = any(%(codes)s)"
            " order by school_code, calendar_date",
            {"all": not school_codes, "codes": list(school_codes or [])},
        )
        rows = cur.fetchall()
    locked: dict[int, set[date]] = {}
    previous: tuple[int, date, bool] | None = None
    for school, day, is_locked in rows:
        if is_locked:
            dates = locked.setdefault(int(school), set())
            dates.add(day)
            if previous and previous[0] == school and previous[2]:
                gap = previous[1] + timedelta(days=1)
                while gap < day:
                    dates.add(gap)
                    gap += timedelta(days=1)
        previous = (school, day, bool(is_locked))
    return locked


def _exists(cur, name: str) -> bool:
    cur.execute("select to_regclass(%s)", (name,))
    return cur.fetchone()[0] is not None


def _has_column(cur, table: str, column: str) -> bool:
    schema, name = table.split(".")
    cur.execute("select 1 from information_schema.columns where table_schema = %s and table_name = %s"
                " and column_name = %s", (schema, name, column))
    return cur.fetchone() is not None


def _counts(cur, table: str) -> dict[int, int]:
    if not _exists(cur, table):
        return {}
    cur.execute(f"select _window_key, count(*) from {table} group by 1")
    return {int(k): int(n) for k, n in cur.fetchall()}


def _pick(pending: list[tuple], days: dict[int, int], periods: dict[int, int]) -> tuple[list, list]:
    """Windows whose rows all landed and that no later pending window of the school overlaps."""
    good, bad = [], []
    for row in pending:
        key, _school, _start, _end, _as_of, _run, n_days, n_periods, _load, _final = row
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


def _removed(cur, table: str, incoming: str, keys: str) -> dict[int, tuple[int, int]]:
    """Per window: rows the table holds in its range, and how many of them the new answer lacks.

    An outer join to the window's distinct incoming keys (a replayed load job may have landed a
    row twice), not a NOT EXISTS inside the aggregate's FILTER: Postgres cannot turn that into
    an anti-join, so it ran the subquery once per held row, each a scan of the incoming rows,
    and a backfill of a year (millions of rows on both sides) ran for hours."""
    lacking, answer = "true", ""  # no incoming table: the new answer holds nothing
    if _exists(cur, incoming):
        match = " and ".join(f"i.{k} = t.{k}" for k in keys.split(", "))
        lacking = "i._window_key is null"
        answer = (f" left join (select distinct _window_key, {keys} from {incoming}) i"
                  f" on i._window_key = w.window_key and {match}")
    cur.execute(
        f"select w.window_key, count(*), count(*) filter (where {lacking})"
        f" from _aeries_apply w join {table} t on t.school_code = w.school_code"
        f" and t.calendar_date between w.start_date and w.end_date{answer} group by w.window_key")
    return {int(k): (int(n), int(r)) for k, n, r in cur.fetchall()}


def apply_pending(warehouse: wh.Warehouse | None = None, guard: DeleteGuard | None = None) -> ApplyResult:
    """Move every fully landed window into the attendance tables (see the module doc)."""
    guard = guard or DeleteGuard()
    result = ApplyResult()
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('aeries.apply'))")
        # taken after the lock: applies are ordered, so dbt's "loaded after my newest row" holds
        cur.execute("select clock_timestamp()")
        applied_at = cur.fetchone()[0]
        if not _exists(cur, WINDOWS_IN):
            return result
        final = "coalesce(final, false)" if _has_column(cur, WINDOWS_IN, "final") else "false"
        cur.execute(f"select window_key, school_code, start_date, end_date, as_of, run_id, days, periods,"
                    f" _dlt_load_id, {final} from {WINDOWS_IN}")
        pending = cur.fetchall()
        if not pending:
            _empty_incoming(cur)
            return result
        day_counts, period_counts = _counts(cur, DAYS_IN), _counts(cur, PERIODS_IN)
        good, bad = _pick(pending, day_counts, period_counts)
        for row in bad:
            event(log, "aeries_window_discarded", logging.WARNING, school_code=row[1],
                  start_date=row[2], end_date=row[3], reason="incomplete or superseded load")
        result.discarded = len(bad)
        if good:
            cur.execute("create temp table _aeries_apply (window_key bigint primary key, school_code bigint,"
                        " start_date date, end_date date, as_of date, run_id text, days integer,"
                        " periods integer, load_id text, final boolean) on commit drop")
            execute_values(cur, "insert into _aeries_apply values %s", good)
            cur.execute("analyze _aeries_apply")
            # dlt created and filled the incoming tables just now: without statistics the planner
            # guesses their size, and the guard's counts and the inserts below join them
            for incoming in (DAYS_IN, PERIODS_IN):
                if _exists(cur, incoming):
                    cur.execute(f"analyze {incoming}")
            good = _hold_back(cur, good, guard, result)
        if good:
            result.days, result.days_written = _replace(cur, DAYS, DAYS_IN, DAY_COLUMNS, applied_at)
            result.periods, result.periods_written = _replace(cur, PERIODS, PERIODS_IN, PERIOD_COLUMNS,
                                                              applied_at)
            cur.execute(f"insert into {STATE} (window_key, school_code, start_date, end_date, as_of, run_id,"
                        " days, periods, final, applied_at) select window_key, school_code, start_date,"
                        " end_date, as_of, run_id, days, periods, final, %s from _aeries_apply"
                        " on conflict (window_key) do nothing", (applied_at,))
            result.windows = len(good)
        _empty_incoming(cur)
    return result


def _replace(cur, table: str, incoming: str, columns: dict[str, str], applied_at) -> tuple[int, int]:
    """Make ``table`` hold exactly the pending windows' answer in their schools and dates, writing
    only the difference (see the module doc). ``columns``: the row's content, compared whole, and
    how each is read from the incoming table. Returns (rows in the answer, rows inserted).

    The answer and the held rows are copied to temp tables first (both a few days of a few
    schools, read by the window index) and compared with EXCEPT, which matches nulls too; a
    replayed load job's duplicate rows collapse there."""
    names = ", ".join(columns)
    label = table.rsplit(".", 1)[-1]
    answer, held = f"_aeries_answer_{label}", f"_aeries_held_{label}"
    if _exists(cur, incoming):
        values = ", ".join(f"{expr} as {name}" for name, expr in columns.items())
        cur.execute(f"create temp table {answer} on commit drop as select distinct {values}"
                    f" from {incoming} i join _aeries_apply w on w.window_key = i._window_key")
    else:  # nothing landed for this table: the answer holds no rows
        cur.execute(f"create temp table {answer} on commit drop as select {names} from {table} limit 0")
    cur.execute(f"create temp table {held} on commit drop as select {', '.join('t.' + c for c in columns)}"
                f" from {table} t join _aeries_apply w on t.school_code = w.school_code"
                " and t.calendar_date between w.start_date and w.end_date")
    cur.execute(f"create temp table {held}_gone on commit drop as"
                f" select {names} from {held} except select {names} from {answer}")
    cur.execute(f"create temp table {answer}_new on commit drop as"
                f" select {names} from {answer} except select {names} from {held}")
    match = " and ".join(f"t.{c} is not distinct from g.{c}" if c in NULLABLE else f"t.{c} = g.{c}"
                         for c in columns)
    cur.execute(f"delete from {table} t using {held}_gone g where {match}")
    cur.execute(f"insert into {REMOVALS} (school_code, student_id, calendar_date, _loaded_at)"
                f" select distinct school_code, student_id, calendar_date, %s from {held}_gone",
                (applied_at,))
    cur.execute(f"insert into {table} ({names}, _loaded_at, _dlt_load_id)"
                f" select {', '.join('n.' + c for c in columns)}, %s, w.load_id from {answer}_new n"
                " join _aeries_apply w on n.school_code = w.school_code"
                " and n.calendar_date between w.start_date and w.end_date", (applied_at,))
    written = cur.rowcount
    cur.execute(f"select count(*) from {answer}")
    return int(cur.fetchone()[0]), written


def _hold_back(cur, good: list[tuple], guard: DeleteGuard, result: ApplyResult) -> list[tuple]:
    """Count what each window removes; keep back the windows the guard refuses (see DeleteGuard)."""
    days = _removed(cur, DAYS, DAYS_IN, "student_id, calendar_date")
    periods = _removed(cur, PERIODS, PERIODS_IN, "student_id, calendar_date, period")
    kept = []
    for row in good:
        existing, removed = days.get(row[0], (0, 0))
        if guard.holds(existing, removed):
            result.held_back.append(HeldBack(row[1], row[2], row[3], existing, removed))
            event(log, "aeries_window_held_back", logging.WARNING, school_code=row[1], start_date=row[2],
                  end_date=row[3], student_days_held=existing, student_days_removed=removed,
                  max_share=guard.max_share)
            continue
        kept.append(row)
        result.days_deleted += removed
        result.periods_deleted += periods.get(row[0], (0, 0))[1]
    if len(kept) != len(good):
        keys = [r[0] for r in good if r not in kept]
        cur.execute("delete from _aeries_apply where window_key = any(%s)", (keys,))
    return kept


def _empty_incoming(cur) -> None:
    tables = [t for t in (DAYS_IN, PERIODS_IN, WINDOWS_IN) if _exists(cur, t)]
    if tables:
        cur.execute(f"truncate {', '.join(tables)}")
