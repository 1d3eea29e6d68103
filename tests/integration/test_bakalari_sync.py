"""The Bakaláři roster sync for real: simulator over HTTP on loopback, embedded Postgres, dlt."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from dlt_pipelines.bakalari.pipeline import sync
from dlt_pipelines.bakalari.settings import BakalariSettings
from dlt_pipelines.common import warehouse
from dlt_pipelines.common.errors import LockBusyError, OperatorError
from dlt_pipelines.common.http import RetryPolicy
from dlt_pipelines.common.locks import is_locked
from dlt_pipelines.simulators.bakalari_api import BakalariSimulator
from dlt_pipelines.simulators.czech_school import CzechSchool
from dlt_pipelines.simulators.faults import FaultSettings

pytestmark = pytest.mark.integration
USER, PASSWORD = "zastupce", "Tajne-Heslo-123"
FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def school():
    return CzechSchool.build(seed=11)


@pytest.fixture
def sim(school):
    with BakalariSimulator(school, username=USER, password=PASSWORD) as server:
        yield server


def settings_for(sim, password=PASSWORD) -> BakalariSettings:
    return BakalariSettings(base_url=sim.base_url, username=USER, password=password,
                            requests_per_minute=None, timeout_seconds=5)


def run_sync(sim, **kwargs) -> dict:
    return sync(settings_for(sim), policy=FAST, **kwargs)


def expected_sizes(school: CzechSchool) -> dict[str, int]:
    n_group_links = sum(len(groups) for groups in school.memberships.values())
    return {"classes": len(school.classes), "groups": len(school.groups),
            "subjects": len(school.subjects), "students": len(school.students),
            "enrollments": len(school.students) + n_group_links}


def query(sql: str, args=()):
    with warehouse.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_double_run_no_duplicates_and_zero_changes_the_second_time(fresh_db, sim, school):
    first = run_sync(sim)
    assert first["status"] == "sync_ok"
    for entity, size in expected_sizes(school).items():
        assert first["counts"][entity] == {"created": size, "updated": 0, "unchanged": 0, "deleted": 0}
    assert first["counts"]["teachers"]["created"] == len(school.teaching_teacher_ids())
    loads_before = query("select count(*) from raw_bakalari._dlt_loads")[0][0]

    second = run_sync(sim)
    for entity, counts in second["counts"].items():
        assert counts["created"] == counts["updated"] == counts["deleted"] == 0, entity
        assert counts["unchanged"] == first["counts"][entity]["created"], entity
    # nothing new was written, and every entity has one row per source id
    assert query("select count(*) from raw_bakalari._dlt_loads")[0][0] == loads_before
    for entity, size in expected_sizes(school).items():
        total, distinct = query(f"select count(*), count(distinct id) from raw_bakalari.{entity}")[0]
        assert total == distinct == size, entity
    runs = query("select run_id, status, counts from ops.sync_runs where source = 'bakalari'"
                 " order by started_at")
    assert [r[0] for r in runs] == [first["run_id"], second["run_id"]]
    assert all(r[1] == "sync_ok" for r in runs)
    assert runs[1][2]["students"] == second["counts"]["students"]
    # the Czech names arrive intact
    surnames = {r[0] for r in query("select last_name from raw_bakalari.students")}
    assert surnames == {s.last_name for s in school.students.values()}


def test_rename_shows_as_updated_and_removed_student_as_deleted(fresh_db, sim, school):
    run_sync(sim)
    klass = school.class_by_abbrev("5.A")
    school.rename_class(klass.id, name="5. A (matematická)")
    renamed = run_sync(sim)
    assert renamed["counts"]["classes"] == {"created": 0, "updated": 1,
                                            "unchanged": len(school.classes) - 1, "deleted": 0}
    assert all(renamed["counts"][e]["updated"] == 0 for e in renamed["counts"] if e != "classes")
    stored_name = query("select name from raw_bakalari.classes where id = %s", (klass.id,))
    assert stored_name == [("5. A (matematická)",)]

    leaver = next(s for s in school.students.values() if school.classes[s.class_id].grade == 9)
    links = 1 + len(school.memberships[leaver.id])
    school.remove_student(leaver.id)
    newcomer = school.add_student(klass.id, "Šárka", "Dvořáková", female=True)
    third = run_sync(sim)
    assert third["counts"]["students"]["deleted"] == 1
    assert third["counts"]["students"]["created"] == 1
    assert third["counts"]["enrollments"]["deleted"] == links
    assert third["counts"]["classes"]["updated"] == 0
    row = query("select is_deleted, deleted_at is not null, first_seen_at < updated_at"
                " from raw_bakalari.students where id = %s", (leaver.id,))
    assert row == [(True, True, True)]
    live = query("select count(*) from raw_bakalari.enrollments where student_id = %s and not is_deleted",
                 (leaver.id,))
    assert live == [(0,)]
    assert query("select is_deleted from raw_bakalari.students where id = %s", (newcomer.id,)) == [(False,)]
    # a fourth run sees no change: the deleted row stays deleted, not deleted again
    fourth = run_sync(sim)
    assert all(c["created"] == c["updated"] == c["deleted"] == 0 for c in fourth["counts"].values())


def test_ids_with_spaces_survive_the_round_trip(fresh_db, sim, school):
    run_sync(sim)
    quirky = {
        "classes": [c.id for c in school.classes.values() if c.id != c.id.strip()],
        "groups": [g.id for g in school.groups.values() if g.id != g.id.strip()],
        "subjects": [s.id for s in school.subjects.values() if s.id != s.id.strip()],
        "students": [s.id for s in school.students.values() if " " in s.id],
    }
    assert all(quirky.values()), quirky  # the simulator does serve such ids
    assert any(i.endswith(" ") for i in quirky["classes"] + quirky["subjects"] + quirky["students"])
    for entity, ids in quirky.items():
        stored = dict(query(f"select id, id_trimmed from raw_bakalari.{entity} where id = any(%s)", (ids,)))
        assert stored == {i: i.strip() for i in ids}, entity
    # joins work on the trimmed ids across routes: every student's class exists
    orphans = query("select count(*) from raw_bakalari.students s left join raw_bakalari.classes c"
                    " on c.id_trimmed = s.class_id_trimmed where c.id is null")
    assert orphans == [(0,)]
    abbrevs = {r[0] for r in query("select abbrev from raw_bakalari.subjects")}
    assert "ČJL " in abbrevs and "M   " in abbrevs


def test_token_expiring_mid_run_is_refreshed_transparently(fresh_db, sim, school):
    sim.expire_tokens_after(10)
    summary = run_sync(sim)
    assert summary["status"] == "sync_ok"
    assert summary["counts"]["students"]["created"] == len(school.students)
    assert sim.stats["unauthorized"] == 1
    assert sim.stats["refresh_grants"] == 1
    assert sim.stats["password_grants"] == 1


def test_short_lived_tokens_are_renewed_before_expiry(fresh_db, school):
    with BakalariSimulator(school, username=USER, password=PASSWORD, token_ttl_seconds=2,
                           faults=FaultSettings(latency_ms=40)) as sim:
        summary = run_sync(sim)
    assert summary["status"] == "sync_ok"
    assert sim.stats["refresh_grants"] >= 1
    assert sim.stats["unauthorized"] == 0


def test_wrong_credentials_fail_fast_and_clearly(fresh_db, sim):
    env = {**os.environ, "BAKALARI_BASE_URL": sim.base_url, "BAKALARI_USERNAME": USER,
           "BAKALARI_PASSWORD": "spatne-heslo-xyz"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "dlt_pipelines", "bakalari"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "rejected the username or password" in result.stderr
    assert "check BAKALARI_USERNAME and BAKALARI_PASSWORD" in result.stderr
    assert "spatne-heslo-xyz" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert sim.stats["failed_logins"] == 1  # no retries of a wrong password
    assert time.monotonic() - started < 30
    status = query("select status, error_summary from ops.sync_runs where source = 'bakalari'")
    assert status[0][0] == "sync_fail" and "spatne-heslo-xyz" not in status[0][1]


def test_overlapping_runs_one_syncs_the_other_exits_on_the_lock(fresh_db, school):
    with BakalariSimulator(school, username=USER, password=PASSWORD,
                           faults=FaultSettings(latency_ms=60)) as sim:
        env = {**os.environ, "BAKALARI_BASE_URL": sim.base_url, "BAKALARI_USERNAME": USER,
               "BAKALARI_PASSWORD": PASSWORD, "BAKALARI_REQUESTS_PER_MINUTE": "0"}
        first = subprocess.Popen([sys.executable, "-m", "dlt_pipelines", "bakalari"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while sim.stats["authorized_requests"] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)  # the first run holds the lock once it talks to the API
            with pytest.raises(LockBusyError, match="Another Bakaláři sync run is loading this warehouse"):
                run_sync(sim)
            out, err = first.communicate(timeout=90)
        finally:
            first.kill()
    assert first.returncode == 0, err
    assert '"status": "sync_ok"' in out
    runs = query("select status from ops.sync_runs where source = 'bakalari'")
    assert runs == [("sync_ok",)]  # the run that lost the lock left no audit row
    assert not is_locked(None, "bakalari")  # and the lock is free again


def test_transient_errors_are_retried(fresh_db, school):
    faults = FaultSettings(error_rate=0.15, drop_rate=0.05, malformed_rate=0.05, seed=3)
    with BakalariSimulator(school, username=USER, password=PASSWORD, faults=faults) as sim:
        summary = run_sync(sim)
    assert summary["status"] == "sync_ok"
    assert summary["retries"] > 0
    assert summary["counts"]["students"]["created"] == len(school.students)


def test_data_connector_adds_staff_and_rooms_v3_does_not_show(fresh_db, school):
    connector = ("konektor", "Konektor-Heslo-9")
    with BakalariSimulator(school, username=USER, password=PASSWORD, connector=connector) as sim:
        v3_only = run_sync(sim)
        no_email = query("select count(*) from raw_bakalari.teachers where email is null")[0][0]
        settings = settings_for(sim)
        settings.connector_username, settings.connector_password = connector
        both = sync(settings, policy=FAST)
        settings.connector_password = "spatne-konektor-heslo"
        with pytest.raises(OperatorError, match="Data Connector refused the connector credentials"):
            sync(settings, policy=FAST)
    assert v3_only["counts"]["teachers"]["created"] == len(school.teaching_teacher_ids())
    extra_teachers = len(school.teachers) - len(school.teaching_teacher_ids())
    assert extra_teachers >= 1  # the head teacher teaches nothing
    # the connector adds the missing staff, and fills in the e-mails v3 did not give
    assert no_email >= 1
    assert both["counts"]["teachers"] == {
        "created": extra_teachers, "updated": no_email,
        "unchanged": len(school.teaching_teacher_ids()) - no_email, "deleted": 0}
    assert query("select count(*) from raw_bakalari.teachers where email is null") == [(0,)]
    assert both["counts"]["rooms"]["created"] >= 1
    assert both["counts"]["students"]["unchanged"] == len(school.students)
    head = query("select name, email, abbrev from raw_bakalari.teachers where id = 'UR3DT'")
    assert head == [("PaedDr. Miroslava Štěpánková", "miroslava.stepankova@zs-example.invalid", None)]


def test_dry_run_writes_nothing_and_an_empty_source_is_not_a_mass_deletion(fresh_db, sim, school):
    dry = run_sync(sim, dry_run=True)
    assert dry["counts"]["students"]["created"] == len(school.students)
    tables = query("select count(*) from information_schema.tables where table_schema = 'raw_bakalari'")
    assert tables == [(0,)]
    run_sync(sim)
    for student_id in list(school.students):
        school.remove_student(student_id)
    with pytest.raises(OperatorError, match="returned no students although"):
        run_sync(sim)
    assert query("select count(*) from raw_bakalari.students where is_deleted") == [(0,)]
    allowed = run_sync(sim, allow_empty=True)
    assert allowed["counts"]["students"]["deleted"] == len(query("select id from raw_bakalari.students"))
