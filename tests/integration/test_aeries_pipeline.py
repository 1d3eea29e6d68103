"""The Aeries pipeline end to end: real HTTP to the simulator, real dlt runs, real Postgres.

A small district (2 schools x 30 students: 101 negative attendance, 102 positive) keeps each
run to a few seconds. The truth comes from the simulator itself (what its API serves on its
simulated date), compared by counts and an md5 checksum of the landed rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from dlt_pipelines import cli as dispatcher
from dlt_pipelines.aeries import cli as aeries_cli
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.locks import ABANDONED
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.district import District, DistrictConfig
from dlt_pipelines.simulators.faults import FaultSettings

pytestmark = pytest.mark.integration

SEED = 18  # has a day with both kinds of correction inside the lookback
START = date(2024, 8, 15)
TODAY = date(2024, 9, 27)  # about six weeks of school
CHUNK = "7"


def make_district(n_schools: int = 2) -> District:
    return District(DistrictConfig(seed=SEED, n_schools=n_schools, students_per_school=30))


@pytest.fixture
def sim_env(fresh_db, monkeypatch):
    """Start a simulator on demand and point the pipeline at it (fast retries, no rate limit)."""
    started: list[AeriesSimulator] = []

    def start(district: District | None = None, today: date = TODAY, **kwargs) -> AeriesSimulator:
        sim = AeriesSimulator(district or make_district(), today=today, **kwargs).start()
        started.append(sim)
        for key, value in {"AERIES_BASE_URL": sim.base_url, "AERIES_CERT": sim.cert, "AERIES_RATE_LIMIT": "0",
                           "AERIES_BACKOFF_BASE_SECONDS": "0.01", "AERIES_BACKOFF_MAX_SECONDS": "0.05",
                           "AERIES_WINDOWS_PER_LOAD": "3"}.items():
            monkeypatch.setenv(key, value)
        return sim

    yield start
    for sim in started:
        sim.stop()


# -- truth and what landed -----------------------------------------------------------------

def truth(district: District, as_of: date, schools=(101, 102), start: date = START,
          end: date | None = None) -> tuple[list[tuple], list[tuple]]:
    days, periods = [], []
    for sc in schools:
        for r in district.attendance(sc, start, end or as_of, as_of=as_of):
            days.append((sc, r.student_id, r.calendar_date.isoformat(), r.all_day_code))
            periods += [(sc, r.student_id, r.calendar_date.isoformat(), p, s, c) for p, s, c in r.classes]
    return sorted(days), sorted(periods)


def checksum(rows: list[tuple]) -> str:
    return hashlib.md5("\n".join("|".join(str(v) for v in row) for row in sorted(rows)).encode()).hexdigest()


def landed() -> tuple[list[tuple], list[tuple]]:
    with wh.cursor() as cur:
        cur.execute("select school_code, student_id, calendar_date::text, all_day_attendance_code"
                    " from raw_aeries.attendance_days")
        days = sorted(cur.fetchall())
        cur.execute("select school_code, student_id, calendar_date::text, period, section_number,"
                    " attendance_code from raw_aeries.attendance_periods")
        periods = sorted(cur.fetchall())
    return days, periods


def assert_matches(expected: tuple[list, list], actual: tuple[list, list]) -> None:
    for name, exp, got in zip(("attendance_days", "attendance_periods"), expected, actual, strict=True):
        assert len(got) == len(exp), f"{name}: {len(got)} rows landed, the API serves {len(exp)}"
        assert checksum(got) == checksum(exp), f"{name}: landed rows differ from the API's"


def sql(query: str, *params):
    with wh.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def run_cli(*args: str) -> int:
    return aeries_cli.main(["--rate-limit", "0", "--chunk-days", CHUNK, *args])


# -- tests ---------------------------------------------------------------------------------

def test_full_backfill_equals_the_simulators_truth(sim_env):
    sim = sim_env()
    district = sim.district
    assert run_cli() == 0
    expected = truth(district, TODAY)
    assert expected[0] and expected[1]
    assert_matches(expected, landed())

    students = sql("select school_code, student_id from raw_aeries.students")
    visible = {(e.school_code, e.student_id) for sc in (101, 102) for e in district.students_at(sc)
               if e.enter_date <= TODAY}
    assert sorted(students) == sorted(visible)
    assert sql("select school_code, attendance_reporting from raw_aeries.schools order by 1") == [
        (101, "Negative"), (102, "Positive")]
    # the calendar: every weekday of the year, both schools, dates typed as dates
    assert sql("select count(*), min(calendar_date), pg_typeof(min(calendar_date))::text"
               " from raw_aeries.calendar where school_code = 101")[0][1:] == (START, "date")
    assert sql("select count(*) from raw_aeries.absence_codes"
               " where school_code = 102 and absence_code = 'P'")[0][0] == 1
    summary = {(r["StudentID"], h["SchoolCode"], h["DaysEnrolled"], h["DaysPresent"], h["DaysAbsence"])
               for sc in (101, 102) for r in district.history_summary(sc, TODAY)
               for h in r["HistorySummaries"]}
    assert set(sql("select student_id, school_code, days_enrolled, days_present, days_absence"
                   " from raw_aeries.attendance_history_summary")) == summary

    (status, counts, requests, rejects, params), = sql(
        "select status, counts, requests, rejects, parameters from ops.sync_runs where source = 'aeries'")
    assert status == "sync_ok" and rejects == 0
    assert counts["attendance_days"] == len(expected[0])
    assert counts["attendance_periods"] == len(expected[1])
    assert counts["students"] == len(students)
    windows = sql("select count(*) from ops.aeries_attendance_windows")[0][0]
    assert requests == windows + 2 + 2 * 5  # systeminfo, schools, 5 routes per school, one per window
    assert params["chunk_days"] == 7
    # the incoming tables are emptied once applied
    assert sql("select count(*) from raw_aeries.attendance_days_incoming")[0][0] == 0


def _correction_day(district: District) -> tuple[date, list]:
    """A day T such that on T+1 an absence inside the lookback is changed and another is cleared
    at the negative school (so its day vanishes from the API)."""
    fixes = district.corrections
    for offset in range(60):
        day = START + timedelta(days=offset)
        hits = [c for c in fixes if c.changed_on == day + timedelta(days=1)
                and 0 <= (day - c.calendar_date).days < 7]
        if any(c.new_code for c in hits) and any(c.new_code is None and c.school_code == 101 for c in hits):
            return day, hits
    raise AssertionError("the seeded district has no day with both kinds of correction")


def test_next_day_incremental_picks_up_new_day_and_corrections_in_both_directions(sim_env):
    district = make_district()
    day, fixes = _correction_day(district)
    sim = sim_env(district, today=day)
    assert run_cli() == 0
    before = landed()
    assert_matches(truth(district, day), before)
    cleared = next(c for c in fixes if c.new_code is None and c.school_code == 101)
    changed = next(c for c in fixes if c.new_code)
    key = (cleared.school_code, cleared.student_id, cleared.calendar_date.isoformat())
    assert key in {row[:3] for row in before[0]}

    (first_load,), = sql("select max(_loaded_at) from raw_aeries.attendance_periods")

    sim.advance_day(1)
    assert run_cli() == 0
    # the lookback (7 days) was fetched again as of the new day; older dates stay as they were
    cutoff = day - timedelta(days=6)
    old = truth(district, day, end=cutoff - timedelta(days=1))
    new = truth(district, sim.today, start=cutoff)
    now = landed()
    assert_matches((old[0] + new[0], old[1] + new[1]), now)
    # only the difference was written: a row the re-fetch repeated keeps its first load time, and
    # every student-day that lost a row (cleared, or its old code replaced) is logged for dbt
    written_days = set(sql("select school_code, student_id, calendar_date::text, all_day_attendance_code"
                           " from raw_aeries.attendance_days where _loaded_at > %s", first_load))
    written_periods = set(sql("select school_code, student_id, calendar_date::text, period, section_number,"
                              " attendance_code from raw_aeries.attendance_periods where _loaded_at > %s",
                              first_load))
    assert written_days == set(now[0]) - set(before[0])
    assert written_periods == set(now[1]) - set(before[1])
    assert any(row[2] < sim.today.isoformat() for row in written_days), "the correction was written"
    lost = ({row[:3] for row in set(before[0]) - set(now[0])}
            | {row[:3] for row in set(before[1]) - set(now[1])})
    assert key in lost
    assert set(sql("select school_code, student_id, calendar_date::text from raw_aeries.attendance_removals"
                   " where _loaded_at > %s", first_load)) == lost

    days_now = {row[:3]: row[3] for row in landed()[0]}
    assert key not in days_now, "a cleared absence must vanish"
    assert not sql("select 1 from raw_aeries.attendance_periods where school_code = %s and student_id = %s"
                   " and calendar_date = %s", *key)
    changed_key = (changed.school_code, changed.student_id, changed.calendar_date.isoformat())
    assert days_now[changed_key] == changed.new_code
    # only the new day plus the lookback was requested: 8 days per school
    (counts, requests), = sql("select counts, requests from ops.sync_runs where source = 'aeries'"
                              " order by started_at desc limit 1")
    fetched = sql("select school_code, min(start_date), max(end_date), sum(end_date - start_date + 1)"
                  " from ops.aeries_attendance_windows where run_id = (select run_id from ops.sync_runs"
                  " where source = 'aeries' order by started_at desc limit 1) group by 1 order by 1")
    assert fetched == [(sc, cutoff, sim.today, 8) for sc in (101, 102)]
    assert requests == counts["attendance_windows"] + 2 + 2 * 5


def test_faults_5xx_and_429_end_with_the_same_data_as_a_clean_run(sim_env):
    sim = sim_env(faults=FaultSettings(error_rate=0.10, rate_limit_rate=0.05, retry_after_seconds=1,
                                       malformed_rate=0.02, seed=5))
    assert run_cli() == 0
    assert_matches(truth(sim.district, TODAY), landed())
    (retries, status), = sql("select retries, status from ops.sync_runs where source = 'aeries'")
    assert status == "sync_ok"
    assert retries > 0
    assert sum(sim.faults.injected.values()) >= retries > 0


def test_rejected_certificate_fails_fast_with_one_clear_sentence(sim_env, capsys):
    sim = sim_env()
    wrong = "ffffffffffffffffffffffffffffffff"
    os.environ["AERIES_CERT"] = wrong  # restored by monkeypatch in sim_env
    handlers = list(logging.getLogger("schooldata").handlers)
    started = time.monotonic()
    try:
        code = dispatcher.run(["aeries", "--rate-limit", "0"])
    finally:
        logging.getLogger("schooldata").handlers[:] = handlers
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2
    assert "error: Aeries rejected the certificate (HTTP 401" in err
    assert "fix: check AERIES_CERT" in err
    assert "Traceback" not in err
    assert wrong not in err and sim.cert not in err
    assert sim.request_count == 2  # systeminfo (no certificate needed), then the refused call
    assert elapsed < 10
    assert sql("select count(*) from information_schema.schemata where schema_name = 'raw_aeries'")[0][0] == 0
    (status, requests, error), = sql("select status, requests, error_summary from ops.sync_runs")
    assert (status, requests) == ("sync_fail", 2)
    assert "rejected the certificate" in error and wrong not in error


def test_dry_run_prints_the_plan_and_writes_nothing(sim_env, capsys):
    sim_env()
    assert run_cli("--dry-run", "--school-code", "102") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["schools"] == [102]
    assert plan["chunks"] == 7  # Aug 15 .. Sep 27 in 7-day chunks
    assert plan["requests"] == plan["chunks"] + 2 + 5
    assert plan["server_date"] == TODAY.isoformat()
    assert sql("select count(*) from information_schema.schemata"
               " where schema_name in ('raw_aeries', 'ops')")[0][0] == 0


def _subprocess_env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SCHOOLDATA_LOG_LEVEL": "DEBUG", "RUNTIME__LOG_LEVEL": "DEBUG", **extra})
    return env


def test_kill_9_mid_run_then_rerun_gives_the_uninterrupted_data(sim_env, tmp_path):
    sim = sim_env(faults=FaultSettings(latency_ms=150))
    args = [sys.executable, "-m", "dlt_pipelines", "aeries", "--rate-limit", "0", "--chunk-days", "5",
            "--resources", "schools", "attendance"]
    log_path = tmp_path / "killed.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, env=_subprocess_env(AERIES_WINDOWS_PER_LOAD="2"), stdout=log,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done = sql("select count(*) from ops.aeries_attendance_windows")[0][0]
            except Exception:  # table not created yet
                done = 0
            if done >= 4:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        time.sleep(0.3)  # land somewhere inside the next batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert done >= 4
    completed_before = sql("select count(*) from ops.aeries_attendance_windows")[0][0]
    total = len(range(0, (TODAY - START).days + 1, 5)) * 2
    assert completed_before < total

    sim.set_faults(FaultSettings())
    rerun = subprocess.run(args, env=_subprocess_env(), capture_output=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert_matches(truth(sim.district, TODAY), landed())
    # nothing completed before the kill was downloaded again: every window is in the state once,
    # and the rerun asked for exactly the windows it recorded (plus systeminfo and schools)
    windows = sql("select school_code, start_date, end_date from ops.aeries_attendance_windows")
    assert len(windows) == len(set(windows)) == total
    (run_id, requests), = sql("select run_id, requests from ops.sync_runs where status = 'sync_ok'")
    fetched_by_rerun = sql("select count(*) from ops.aeries_attendance_windows where run_id = %s",
                           run_id)[0][0]
    assert requests == 2 + fetched_by_rerun
    assert fetched_by_rerun <= total - completed_before
    killed_run = sql("select status, error_summary from ops.sync_runs where status <> 'sync_ok'")
    assert killed_run == [("sync_fail", ABANDONED)]  # the rerun closed the killed run's row


def test_debug_logs_contain_no_student_names_or_ids(sim_env):
    sim = sim_env(make_district(n_schools=1), faults=FaultSettings(error_rate=0.1, seed=9))
    result = subprocess.run([sys.executable, "-m", "dlt_pipelines", "aeries", "--rate-limit", "0",
                             "--chunk-days", "10"], env=_subprocess_env(), capture_output=True, timeout=120)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output[-2000:]
    assert '"event": "sync_ok"' in output and '"event": "aeries_progress"' in output
    assert '"level": "debug"' in output  # debug really was on
    students = sim.district.students
    ids = {str(s.student_id) for s in students} | {s.state_student_id for s in students}
    names = {n for s in students for n in (s.first_name, s.last_name, s.middle_name) if len(n) >= 3}
    tokens = set(re.findall(r"[A-Za-z0-9']+", output))
    assert not ids & tokens, "student IDs leaked into the logs"
    assert not names & tokens, "student names leaked into the logs"
    assert sim.cert not in output


def test_landed_but_unapplied_windows_are_applied_not_fetched_again(sim_env):
    """A crash between dlt's load and the apply step: the next run applies what landed intact,
    discards a window that landed only in part, and fetches only what is missing."""
    from dlt_pipelines.aeries import aeries
    from dlt_pipelines.aeries import pipeline as pl
    from dlt_pipelines.aeries.windows import plan_windows

    sim = sim_env()
    options = pl.RunOptions(rate_limit=0, chunk_days=7)
    with pl.open_client(options) as client:
        _info, _schools, today = pl.check_connection(client)
        crashed = plan_windows([101, 102], START, TODAY, today, 7, 7)[:4]
        dlt_pipeline = pl._pipeline(wh.resolve())
        dlt_pipeline.extract(aeries(client, [101, 102], 2024, windows=crashed, as_of=today,
                                    run_id="crashed-run").with_resources("attendance"))
        dlt_pipeline.normalize()
        dlt_pipeline.load()
    with wh.cursor() as cur:  # one window lost part of its rows
        cur.execute("delete from raw_aeries.attendance_periods_incoming where _window_key ="
                    " (select window_key from raw_aeries.attendance_windows_incoming"
                    " order by periods desc limit 1)")
        assert cur.rowcount > 0

    assert run_cli() == 0
    assert_matches(truth(sim.district, TODAY), landed())
    total = 2 * len(range(0, (TODAY - START).days + 1, 7))
    windows = sql("select school_code, start_date, end_date, run_id from ops.aeries_attendance_windows")
    assert len({w[:3] for w in windows}) == len(windows) == total
    assert sum(1 for w in windows if w[3] == "crashed-run") == 3
    (requests,), = sql("select requests from ops.sync_runs where status = 'sync_ok'")
    assert requests == 2 + 2 * 5 + (total - 3)


# -- deletes: only a 200 with an array may remove rows, and never too many at once --------------

def _last_run() -> tuple[str, dict]:
    status, counts = sql("select status, counts from ops.sync_runs order by started_at desc limit 1")[0]
    return status, counts


@pytest.mark.parametrize("fault", ["not_found_rate", "error_rate", "malformed_rate"])
def test_a_failed_attendance_answer_never_removes_a_row(sim_env, monkeypatch, fault):
    from dlt_pipelines.common.errors import OperatorError

    monkeypatch.setenv("AERIES_MAX_ATTEMPTS", "3")  # the windows fail one by one, the breaker stays shut
    sim = sim_env()
    assert run_cli() == 0
    before = landed()
    windows_before = sql("select count(*) from ops.aeries_attendance_windows")[0][0]
    sim.advance_day(3)
    sim.set_faults(FaultSettings(**{fault: 1.0}, path_contains="/attendance"))
    with pytest.raises(OperatorError, match="failed on every attempt"):
        run_cli()
    assert landed() == before, "nothing was deleted or replaced"
    assert sql("select count(*) from ops.aeries_attendance_windows")[0][0] == windows_before
    status, counts = _last_run()
    assert status == "sync_fail"
    assert counts["attendance_windows_failed"] >= 2 and counts.get("attendance_days_deleted", 0) == 0
    # the dimensions still loaded; once Aeries answers again the next run catches up
    sim.set_faults(FaultSettings())
    assert run_cli() == 0
    assert_matches(truth(sim.district, sim.today), landed())


def test_an_open_breaker_on_attendance_removes_nothing_and_says_so(sim_env, capsys):
    sim = sim_env()
    assert run_cli() == 0
    before = landed()
    sim.advance_day(3)
    sim.set_faults(FaultSettings(not_found_rate=1.0, path_contains="/attendance"))
    assert dispatcher.run(["aeries", "--rate-limit", "0", "--chunk-days", "1"]) == 2
    err = capsys.readouterr().err
    assert "consecutive failed requests" in err and "unexpected" not in err
    sim.set_faults(FaultSettings())
    assert landed() == before
    assert _last_run()[0] == "sync_fail"


def test_a_window_that_would_empty_a_school_is_held_back_until_allowed(sim_env):
    from dlt_pipelines.common.errors import OperatorError

    sim = sim_env()
    assert run_cli() == 0
    before = landed()
    positive_before = [r for r in before[0] if r[0] == 102]
    sim.advance_day(1)
    sim.set_faults(FaultSettings(empty_rate=1.0, path_contains="/schools/102/attendance"))
    with pytest.raises(OperatorError, match="held back") as err:
        run_cli()
    assert "--allow-mass-delete" in err.value.fix
    assert [r for r in landed()[0] if r[0] == 102] == positive_before
    status, counts = _last_run()
    assert status == "sync_fail" and counts["attendance_windows_held_back"] >= 1
    # the operator confirms: the (simulated) emptied school's window is applied and counted
    assert run_cli("--allow-mass-delete") == 0
    after = landed()
    removed = {r[:3] for r in before[0]} - {r[:3] for r in after[0]}
    assert removed and all(r[0] == 102 for r in removed)
    assert _last_run()[1]["attendance_days_deleted"] == len(removed)


def test_refetch_reaches_a_late_correction_the_same_day(sim_env):
    sim = sim_env()
    assert run_cli() == 0
    district = sim.district
    # an absence recorded three weeks ago is cleared today: past the 7-day lookback
    day = TODAY - timedelta(days=21)
    coded = [r for r in district.attendance(101, day, day, as_of=TODAY) if r.all_day_code]
    assert coded, "the seed has an all-day absence on that date"
    sim.edit_day(101, coded[0].student_id, coded[0].calendar_date, None)
    assert run_cli("--lookback-days", "30") == 0  # settled today: nothing to fetch
    assert _last_run()[1].get("attendance_windows", 0) == 0
    assert landed() != truth(district, TODAY)
    assert run_cli("--refetch", "--start-date", str(day), "--end-date", str(day)) == 0
    assert_matches(truth(district, TODAY), landed())
    counts = _last_run()[1]
    assert counts["attendance_windows"] == 2 and counts["attendance_days_deleted"] == 1
