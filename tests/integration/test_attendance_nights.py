"""Property: any sequence of school nights leaves the warehouse right.

Hypothesis draws nights: the clock moves on 1-3 days, the office makes random edits (a re-code, the
only absence of a date cleared, an absence added to a past day, a correction older than the
lookback, a withdrawal), then the nightly Aeries run lands them (plus the sweep, `--refetch`, when
drawn) and dbt builds the attendance models incrementally. After every night:

- raw holds what Aeries served at each date's last fetch; the lookback was fetched tonight, and
  after a sweep every date equals what Aeries shows today (late corrections included);
- every deletion is counted in ops.sync_runs;
- each incremental model equals its full refresh (the model's own SQL compiled with
  `--full-refresh`, run against the same warehouse);
- the code history's current versions (snapshots.snp_attendance_codes, compared by window since
  it stopped being a dbt snapshot) equal the coded days, every day has one current version, and
  every code the history saw change is in fct_attendance_corrections, detected that night: a
  cleared day as `cleared`.

Each example is one night on top of the nights before it (a school year is a sequence), so the
examples share one warehouse and run without shrinking. 50 nights in CI;
``ATTENDANCE_NIGHTS_EXAMPLES=300 pytest -m property`` (or ``make bench``) runs more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from dlt_pipelines.aeries.pipeline import RunOptions
from dlt_pipelines.aeries.pipeline import run as run_aeries
from dlt_pipelines.common import settings as settings_mod
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.attendance_gen import PRESENT
from dlt_pipelines.simulators.district import District, DistrictConfig

pytestmark = [pytest.mark.integration, pytest.mark.property]

START = date(2024, 8, 15)
FIRST_NIGHT = date(2024, 9, 13)
LOOKBACK = 7
EXAMPLES = int(os.environ.get("ATTENDANCE_NIGHTS_EXAMPLES", "50"))
# Negative-attendance schools only: a cleared absence then leaves its date without any raw row,
# the case the incremental models once missed (positive schools are covered by test_dbt_attendance).
SCHOOLS = (101, 102)
INCREMENTAL = {"int_attendance__day_codes": "intermediate", "fct_attendance_daily": "marts",
               "fct_attendance_periods": "marts", "int_attendance__student_months": "intermediate",
               "fct_attendance_student_year": "marts", "int_attendance__student_schedules": "intermediate",
               "stg_aeries__attendance_days": "staging", "stg_aeries__attendance_periods": "staging",
               "int_attendance__student_enrollments": "intermediate"}
# rows an incremental build keeps that a full build has no source for: a student whose last day
# code vanished keeps a schedule row with no length, one whose spans all went a row with no spans
# (so the daily fact rebuilds their days)
KEPT_ROWS = {"int_attendance__student_schedules": "max_periods_recorded is not null",
             "int_attendance__student_enrollments": "enrollment_spans is not null"}
# when a row was built and from which boundary: bookkeeping for the next incremental model, not data
BUILD_COLUMNS = {"built_at", "reprocessed_from", "source_built_at", "changed_at", "seen_loaded_at"}
BUILD = ["build", "--select", "+fct_attendance_daily", "+fct_attendance_periods",
         "+fct_attendance_corrections", "+fct_attendance_student_year",
         "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
# after the first build the seeds and the staging views (over raw tables that dlt merges into,
# never drops) stay in place: each night rebuilds the staging attendance tables and the
# intermediate models on (a view over a rebuilt table is dropped with it, so those are rebuilt too)
NIGHT_BUILD = [*BUILD, "--exclude", "resource_type:seed", "config.materialized:view,path:models/staging"]
NIGHTLY_RESOURCES = ["calendar", "enrollment", "attendance"]
CODES = ("A", "I", "E", "U")


@dataclass(frozen=True)
class Edit:
    kind: str   # recode | clear_only (every code of a date) | add_past | late | withdraw
    pick: int   # chooses among the candidates the kind has that night


@dataclass(frozen=True)
class Night:
    days: int
    edits: tuple[Edit, ...]
    sweep: bool


nights = st.builds(
    Night,
    days=st.integers(1, 3),
    edits=st.lists(st.builds(Edit, st.sampled_from(["recode", "clear_only", "add_past", "late", "withdraw"]),
                             st.integers(0, 10**6)), max_size=5).map(tuple),
    sweep=st.booleans(),
)


class World:
    """The simulator and what the nights have done so far (a plain class: short in reports)."""

    def __init__(self, sim: AeriesSimulator, full_sql: dict[str, str], dbt: _Dbt):
        self.sim = sim
        self.full_sql = full_sql
        self.dbt = dbt
        self.nights = 0
        self.cleared_only_seen = 0
        self.final_dates: set[tuple[int, date]] = set()

    def __repr__(self) -> str:
        return f"World(today={self.sim.today}, nights={self.nights})"


def _sql(query: str, params=()) -> list[tuple]:
    with wh.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


class _Dbt:
    """dbt in this process (its start-up and parse once, not every night): a real dbt run all the
    same, against the same warehouse, through the project's profile."""

    def __init__(self) -> None:
        from dbt.cli.main import dbtRunner

        self._runner_type = dbtRunner
        self.runner = dbtRunner()
        self.common = ["--project-dir", str(settings_mod.dbt_project_dir()),
                       "--profiles-dir", str(settings_mod.profiles_dir()), "--log-level", "none"]

    def __call__(self, args: list[str]) -> None:
        result = self.runner.invoke([*args, *self.common])
        failed = [f"{r.node.unique_id}: {r.message}" for r in getattr(result.result, "results", None) or []
                  if str(r.status) in ("error", "fail")]
        assert result.success, failed or result.exception

    def freeze_manifest(self) -> None:
        """Parse once; later invocations reuse the manifest."""
        parsed = self.runner.invoke(["parse", *self.common])
        assert parsed.success, parsed.exception
        self.runner = self._runner_type(manifest=parsed.result)


def _nightly(sim: AeriesSimulator, refetch: bool = False) -> dict:
    return run_aeries(RunOptions(start_date=START, end_date=sim.today, rate_limit=0, chunk_days=10,
                                 lookback_days=LOOKBACK, resources=NIGHTLY_RESOURCES, refetch=refetch))


@pytest.fixture(scope="module")
def world(new_database, tmp_path_factory):
    district = District(DistrictConfig(seed=5, n_schools=2, students_per_school=12, start_date=START,
                                       end_date=date(2025, 6, 12), positive_schools=[]))
    tmp = tmp_path_factory.mktemp("nights")
    env = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(tmp / "local"),
           "SCHOOLDATA_PIPELINES_DIR": str(tmp / "dlt"), "DBT_TARGET_PATH": str(tmp / "target"),
           "DBT_LOG_PATH": str(tmp / "logs")}
    with pytest.MonkeyPatch.context() as mp, AeriesSimulator(district, today=FIRST_NIGHT) as sim:
        mp.delenv("WAREHOUSE_DSN", raising=False)
        for key, value in {**env, "AERIES_BASE_URL": sim.base_url, "AERIES_CERT": sim.cert}.items():
            mp.setenv(key, value)
        mp.setenv("PGOPTIONS", f"-c schooldata.as_of_date={sim.today}")
        run_aeries(RunOptions(start_date=START, end_date=sim.today, rate_limit=0, chunk_days=10))
        dbt = _Dbt()
        dbt(BUILD)
        dbt(["compile", "--full-refresh", "--select", *INCREMENTAL])
        dbt.freeze_manifest()
        compiled = Path(env["DBT_TARGET_PATH"]) / "compiled" / "school_data" / "models"
        full_sql = {name: next(compiled.rglob(f"{name}.sql")).read_text() for name in INCREMENTAL}
        yield World(sim, full_sql, dbt), mp


# -- the truth ---------------------------------------------------------------------------------

def _truth_rows(sim: AeriesSimulator) -> tuple[set, set]:
    days, periods = set(), set()
    for sc in SCHOOLS:
        for r in sim.district.attendance(sc, START, sim.today, as_of=sim.today):
            days.add((sc, r.student_id, r.calendar_date, r.all_day_code))
            periods |= {(sc, r.student_id, r.calendar_date, p, s, c) for p, s, c in r.classes}
    return days, periods


def _raw_rows() -> tuple[set, set]:
    days = set(_sql("select school_code, student_id, calendar_date, all_day_attendance_code"
                    " from raw_aeries.attendance_days"))
    periods = set(_sql("select school_code, student_id, calendar_date, period, section_number,"
                       " attendance_code from raw_aeries.attendance_periods"))
    return days, periods


# -- the office's edits ------------------------------------------------------------------------

def _school_days(sim: AeriesSimulator, first: date, last: date) -> list[date]:
    return [d for d in sim.district.instructional_days if first <= d <= min(last, sim.today)]


def _enrolled(sim: AeriesSimulator, sc: int, day: date) -> list[int]:
    return sorted(e.student_id for e in sim.district.enrollments(sc)
                  if e.enter_date <= day and (e.leave_date is None or day <= e.leave_date))


def _apply_edit(world: World, edit: Edit) -> tuple[str, int, int, date] | None:
    """Make the edit in the simulator; returns (kind, school, student, date) or None if it had no target."""
    sim = world.sim
    today = sim.today
    if edit.kind == "clear_only":
        # every absence of one recent date is cleared: the date is left without a single raw row
        days = [d for d in _school_days(sim, today - timedelta(days=LOOKBACK - 1), today - timedelta(days=1))
                if any(True for sc in SCHOOLS for _ in sim.district.attendance(sc, d, d, as_of=today))]
        if not days:
            return None
        day = days[edit.pick % len(days)]
        for sc in SCHOOLS:
            for r in list(sim.district.attendance(sc, day, day, as_of=today)):
                sim.edit_day(sc, r.student_id, day, None)
        return "clear_only", 0, 0, day
    if edit.kind in ("recode", "add_past", "late"):
        if edit.kind == "late":
            days = _school_days(sim, today - timedelta(days=30), today - timedelta(days=LOOKBACK + 1))
        else:
            days = _school_days(sim, today - timedelta(days=LOOKBACK - 1), today - timedelta(days=1))
        candidates = []
        for sc in SCHOOLS:
            for day in days:
                records = {r.student_id: r for r in sim.district.attendance(sc, day, day, as_of=today)}
                for sid in _enrolled(sim, sc, day):
                    record = records.get(sid)
                    all_day = record.all_day_code if record else ""
                    coded = record is not None and (all_day not in ("", PRESENT.code) or any(
                        c not in ("", PRESENT.code) for _, _, c in record.classes))
                    if edit.kind == "recode" and all_day not in ("", PRESENT.code):
                        candidates.append((sc, sid, day, next(c for c in CODES if c != all_day)))
                    elif edit.kind == "add_past" and not coded:
                        candidates.append((sc, sid, day, CODES[edit.pick % len(CODES)]))
                    elif edit.kind == "late":
                        candidates.append((sc, sid, day, None if coded else "U"))
        if not candidates:
            return None
        sc, sid, day, new = candidates[edit.pick % len(candidates)]
        sim.edit_day(sc, sid, day, new)
        return edit.kind, sc, sid, day
    # withdraw: a student still enrolled leaves as of a recent day (recorded late, within the window)
    leave = today - timedelta(days=1 + edit.pick % 4)
    open_spans = [(sc, e.student_id) for sc in SCHOOLS for e in sim.district.enrollments(sc)
                  if e.leave_date is None and e.enter_date < leave - timedelta(days=5)]
    if len(open_spans) < 8:  # keep a school to test
        return None
    sc, sid = open_spans[edit.pick % len(open_spans)]
    sim.withdraw(sc, sid, leave)
    return "withdraw", sc, sid, leave


# -- checks ------------------------------------------------------------------------------------

def _assert_raw_is_the_truth(world: World, swept: bool) -> None:
    """Raw holds, date by date, what Aeries served when that date was last fetched; the nightly
    keeps the lookback fresh and the sweep every date (a date fetched while its month was locked,
    `final`, cannot change)."""
    sim = world.sim
    last_fetch: dict[tuple[int, date], date] = {}
    for sc, first, last, as_of, final in _sql("select school_code, start_date, end_date, as_of, final"
                                              " from ops.aeries_attendance_windows"):
        day = first
        while day <= last:
            last_fetch[(sc, day)] = max(as_of, last_fetch.get((sc, day), date.min))
            if final:
                world.final_dates.add((sc, day))
            day += timedelta(days=1)
    expected_days, expected_periods = set(), set()
    for (sc, day), as_of in last_fetch.items():
        fresh = day >= sim.today - timedelta(days=LOOKBACK) or (swept and (sc, day) not in world.final_dates)
        assert not fresh or as_of == sim.today, f"{sc} {day} was last fetched on {as_of}"
        for r in sim.district.attendance(sc, day, day, as_of=as_of):
            expected_days.add((sc, r.student_id, r.calendar_date, r.all_day_code))
            expected_periods |= {(sc, r.student_id, r.calendar_date, p, s, c) for p, s, c in r.classes}
    raw_days, raw_periods = _raw_rows()
    assert raw_days == expected_days, "raw attendance days differ from what Aeries served"
    assert raw_periods == expected_periods, "raw period marks differ from what Aeries served"
    if swept:  # and after a sweep, from what Aeries shows today
        assert (raw_days, raw_periods) == _truth_rows(sim)


def _data_columns(schema: str, name: str) -> str:
    return ", ".join(c for (c,) in _sql(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position", (schema, name)) if c not in BUILD_COLUMNS)


def _assert_incremental_equals_full_refresh(world: World) -> None:
    for name, schema in INCREMENTAL.items():
        full, cols = world.full_sql[name], _data_columns(schema, name)
        ours = f"(select * from {schema}.{name} where {KEPT_ROWS.get(name, 'true')}) ours"
        extra = _sql(f"select {cols} from {ours} except all select {cols} from ({full}) f limit 3")
        missing = _sql(f"select {cols} from ({full}) f except all select {cols} from {ours} limit 3")
        assert not extra and not missing, f"{name} differs from its full refresh: {extra} / {missing}"


def _current_snapshot() -> dict[tuple, tuple]:
    return {(sc, sid, d): (code, periods) for sc, sid, d, code, periods in _sql(
        "select school_code, student_id, calendar_date, all_day_code, period_codes"
        " from snapshots.snp_attendance_codes where dbt_valid_to = '9999-12-31'"
        " and coalesce(dbt_is_deleted::text, 'False') <> 'True'")}


def _assert_history(world: World, before: dict, after: dict) -> None:
    coded = {(sc, sid, d): (code, periods) for sc, sid, d, code, periods in _sql(
        "select school_code, student_id, calendar_date, all_day_code, period_codes"
        " from intermediate.int_attendance__coded_days")}
    assert after == coded, "the snapshot's current versions differ from the coded days"
    assert not _sql("select school_code, student_id, calendar_date from snapshots.snp_attendance_codes"
                    " where dbt_valid_to = '9999-12-31' group by 1, 2, 3 having count(*) > 1"), \
        "a day has more than one current version"
    assert not _sql("select 1 from snapshots.snp_attendance_codes where dbt_valid_to < dbt_valid_from"), \
        "a version closed before it opened"
    corrections = {(sc, sid, d): (kind, old, new) for sc, sid, d, kind, old, new in _sql(
        "select school_code, student_id, calendar_date, correction_type, old_all_day_code, new_all_day_code"
        " from marts.fct_attendance_corrections where detected_at::date = %s", (world.sim.today,))}
    for key in before.keys() | after.keys():
        if before.get(key) == after.get(key):
            continue
        if key not in before:  # a new coded day: not a correction unless it had been cleared before
            continue
        kind, old, new = corrections.get(key, (None, None, None))
        if key not in after:
            assert kind == "cleared" and old == before[key][0] and new is None, (key, kind)
        else:
            assert kind == "changed" and (old, new) == (before[key][0], after[key][0]), (key, kind)


# -- the property ------------------------------------------------------------------------------

@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
@example(night=Night(days=1, edits=(Edit("clear_only", 0),), sweep=False))
@given(night=nights)
def test_every_night_leaves_raw_models_and_history_right(world, night):
    world, mp = world
    sim = world.sim
    if sim.today + timedelta(days=night.days) > date(2025, 6, 12):
        return  # the school year is over
    sim.advance_day(night.days)
    mp.setenv("PGOPTIONS", f"-c schooldata.as_of_date={sim.today}")
    raw_before = _raw_rows()
    made = [m for m in (_apply_edit(world, e) for e in night.edits) if m is not None]

    runs = [_nightly(sim)]
    if night.sweep:
        runs.append(_nightly(sim, refetch=True))
    assert all(r["status"] == "sync_ok" for r in runs)
    _assert_raw_is_the_truth(world, night.sweep)
    raw_after = _raw_rows()
    removed = {r[:3] for r in raw_before[0]} - {r[:3] for r in raw_after[0]}
    assert sum(r["counts"].get("attendance_days_deleted", 0) for r in runs) == len(removed)

    before = _current_snapshot()
    world.dbt(NIGHT_BUILD)
    _assert_incremental_equals_full_refresh(world)
    after = _current_snapshot()
    _assert_history(world, before, after)

    for kind, _, _, day in made:
        if kind != "clear_only" or any(True for sc in SCHOOLS for _ in sim.district.attendance(
                sc, day, day, as_of=sim.today)):
            continue  # (a later edit of the night put an absence back on that date)
        # the named case: the date has no raw row left, and the marts know every absence is gone
        assert not _sql("select 1 from raw_aeries.attendance_days where calendar_date = %s", (day,))
        assert _sql("select count(*) from marts.fct_attendance_daily where calendar_date = %s"
                    " and (is_absent or all_day_code is not null)", (day,)) == [(0,)]
        was = {k for k in before if k[2] == day}
        if not was:
            continue  # entered and cleared before any build saw it: nothing to correct
        cleared = _sql("select school_code, student_id, calendar_date from marts.fct_attendance_corrections"
                       " where calendar_date = %s and correction_type = 'cleared'"
                       " and new_all_day_code is null and detected_at::date = %s", (day, sim.today))
        assert was == set(cleared), "every cleared day is a `cleared` correction seen tonight"
        world.cleared_only_seen += 1
    world.nights += 1


def test_the_named_cleared_only_absence_night_ran(world):
    """The explicit example above found a date whose only absence it cleared (runs after it)."""
    assert world[0].cleared_only_seen >= 1 and world[0].nights >= min(EXAMPLES, 10)


def test_a_replayed_earlier_night_and_the_next_one_equal_their_full_refresh(world):
    """Re-running an earlier night (an as-of date before the newest day built) drops the later days
    from the spine models and turns their correction flags back: whatever the months and the
    student-year held of the dropped days must go too, though no daily row was rebuilt to say so
    (here every day of the current month goes). The next night brings them back."""
    world, mp = world
    sim = world.sim
    newest = max(d for d in sim.district.instructional_days if d <= sim.today)
    month_start = newest.replace(day=1)
    replay = month_start - timedelta(days=1)
    assert _sql("select count(*) from marts.fct_attendance_daily where calendar_date >= %s",
                (month_start,))[0][0] > 0
    mp.setenv("PGOPTIONS", f"-c schooldata.as_of_date={replay}")
    world.dbt(NIGHT_BUILD)
    assert _sql("select count(*) from marts.fct_attendance_daily where calendar_date >= %s",
                (month_start,)) == [(0,)]
    assert _sql("select count(*) from intermediate.int_attendance__student_months where month_start >= %s",
                (month_start,)) == [(0,)]
    assert _sql("select count(*) from marts.fct_attendance_student_year where last_enrolled_date >= %s",
                (month_start,)) == [(0,)]
    _assert_incremental_equals_full_refresh(world)

    mp.setenv("PGOPTIONS", f"-c schooldata.as_of_date={sim.today}")
    world.dbt(NIGHT_BUILD)
    _assert_incremental_equals_full_refresh(world)
