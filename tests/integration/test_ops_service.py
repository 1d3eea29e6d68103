"""The operations service over real HTTP: uvicorn in a child process (``python -m dlt_pipelines
serve``) on a free loopback port, a small simulated Aeries district, a fresh database.

One module-scoped scenario: tokens from the CLI, an on-demand Aeries sync through the API (with a
concurrent second request refused), signed webhooks (bad signature, tamper, replay, duplicate,
dead letter and its replay after the fix), the live attendance model after ``dbt build``, and a
real Prometheus server (Debian's) scraping ``/metrics``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dlt_pipelines.common import warehouse
from dlt_pipelines.common.locks import lock_key
from dlt_pipelines.dbt_runner import run_dbt
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.district import District, DistrictConfig
from dlt_pipelines.simulators.webhook_sender import change_event, send, signature

pytestmark = pytest.mark.integration

TODAY = date(2024, 9, 20)
SECRET = "test-webhook-secret-" + "9" * 24
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlt_pipelines", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def _query(sql: str, params=()) -> list[tuple]:
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture(scope="module")
def service(new_database, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ops_service")
    district = District(DistrictConfig(seed=7, n_schools=2, students_per_school=15,
                                       start_date=date(2024, 8, 15), end_date=date(2025, 6, 12)))
    with pytest.MonkeyPatch.context() as mp, AeriesSimulator(district, today=TODAY) as sim:
        mp.delenv("WAREHOUSE_DSN", raising=False)
        env_vars = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(tmp / "local"),
                    "SCHOOLDATA_PIPELINES_DIR": str(tmp / "dlt"), "DBT_TARGET_PATH": str(tmp / "target"),
                    "DBT_LOG_PATH": str(tmp / "logs"), "AERIES_BASE_URL": sim.base_url,
                    "AERIES_CERT": sim.cert,
                    "AERIES_RATE_LIMIT": "0", "AERIES_WEBHOOK_SECRET": SECRET,
                    "SCHOOLDATA_REJECTS_KEY": base64.b64encode(os.urandom(32)).decode()}
        for key, value in env_vars.items():
            mp.setenv(key, value)
        env = dict(os.environ)
        tokens = {}
        for role in ("operator", "viewer"):
            created = _cli(env, "tokens", "create", "--role", role, "--name", f"test-{role}")
            assert created.returncode == 0, created.stderr
            tokens[role] = json.loads(created.stdout)
        port = _free_port()
        log_path = tmp / "service.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "dlt_pipelines", "serve", "--port", str(port)],
                                    env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
            yield {"base": base, "tokens": tokens, "env": env, "district": district, "log": log_path,
                   "tmp": tmp, "port": port}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _auth(service, role: str) -> dict:
    return {"Authorization": f"Bearer {service['tokens'][role]['token']}"}


def _wait_run(service, run_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{service['base']}/api/v1/runs/{run_id}", headers=_auth(service, "viewer"), timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("sync_ok", "sync_fail"):
            return body
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish")


@pytest.fixture(scope="module")
def synced(service):
    """Two concurrent sync requests: one starts the Aeries run, the other gets 409."""
    results: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def post():
        barrier.wait()
        results.append(httpx.post(f"{service['base']}/api/v1/sync/aeries", headers=_auth(service, "operator"),
                                  timeout=30))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if r.status_code == 202]
    run = _wait_run(service, started[0].json()["run_id"]) if started else None
    return {"results": results, "run": run}


# -- auth -------------------------------------------------------------------------------------
def test_missing_and_bad_tokens_are_401_with_json(service):
    r = httpx.get(f"{service['base']}/api/v1/runs")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = httpx.get(f"{service['base']}/api/v1/runs", headers={"Authorization": "Bearer sdo_nope_notatoken"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_viewer_cannot_start_a_sync(service):
    r = httpx.post(f"{service['base']}/api/v1/sync/aeries", headers=_auth(service, "viewer"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_revoked_token_is_refused_and_tokens_never_logged(service):
    created = _cli(service["env"], "tokens", "create", "--role", "viewer", "--name", "short-lived")
    token = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert httpx.get(f"{service['base']}/api/v1/runs", headers=headers).status_code == 200
    revoked = _cli(service["env"], "tokens", "revoke", token["token_id"])
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{service['base']}/api/v1/runs", headers=headers).status_code == 401
    listed = _cli(service["env"], "tokens", "list").stdout
    assert token["token_id"] in listed and token["token"] not in listed
    stored = _query("select token_sha256 from ops.api_tokens where token_id = %s", (token["token_id"],))
    assert stored and token["token"] not in stored[0][0]
    logged = service["log"].read_text()
    assert all(t["token"] not in logged for t in [token, *service["tokens"].values()])


def test_unknown_source_is_404(service):
    r = httpx.post(f"{service['base']}/api/v1/sync/powerschool", headers=_auth(service, "operator"))
    assert r.status_code == 404 and "error" in r.json()


# -- on-demand sync ---------------------------------------------------------------------------
def test_concurrent_syncs_one_runs_one_gets_409(service, synced):
    assert sorted(r.status_code for r in synced["results"]) == [202, 409]
    conflict = next(r for r in synced["results"] if r.status_code == 409)
    assert conflict.json()["error"] == "conflict"
    run = synced["run"]
    assert run["status"] == "sync_ok", run
    assert run["counts"]["attendance_days"] > 0 and run["counts"]["students"] > 0
    # the same row as ops.sync_runs, under the id the 202 announced
    row = _query("select status, requests from ops.sync_runs where run_id = %s", (run["run_id"],))
    assert row == [("sync_ok", run["requests"])]
    listed = httpx.get(f"{service['base']}/api/v1/runs", params={"source": "aeries"},
                       headers=_auth(service, "viewer")).json()["runs"]
    assert [r["run_id"] for r in listed] == [run["run_id"]]


def test_sync_is_409_while_another_session_holds_the_lock(service, synced):
    conn = warehouse.connect(warehouse.resolve())
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_lock(hashtext(%s))", (lock_key("aeries"),))
            r = httpx.post(f"{service['base']}/api/v1/sync/aeries", headers=_auth(service, "operator"))
            assert r.status_code == 409, r.text
    finally:
        conn.close()


# -- webhooks ---------------------------------------------------------------------------------
def _a_student_day(service) -> tuple[int, int, date, str, str]:
    """A loaded student-day and an absence code of its school other than the day's code."""
    rows = _query("select d.student_id, d.school_code, d.calendar_date, d.all_day_attendance_code, c.code"
                  " from raw_aeries.attendance_days d"
                  " cross join lateral (select trim(absence_code) as code from raw_aeries.absence_codes a"
                  "   where a.school_code = d.school_code"
                  "   and trim(a.absence_code) <> d.all_day_attendance_code"
                  "   and a.type_code = 2 limit 1) c"
                  " order by d.calendar_date desc, d.student_id limit 1")
    assert rows, "the sync loaded attendance days and codes"
    return rows[0]


def _events(event_id: str) -> int:
    return _query("select count(*) from raw_aeries.attendance_events where event_id = %s", (event_id,))[0][0]


def _dead_count() -> int:
    return _query("select count(*) from ops.webhook_dead_letters")[0][0]


def test_bad_signature_and_tampered_body_are_401_and_store_nothing(service, synced):
    student, school, day, _, code = _a_student_day(service)
    body = change_event(student_id=student, school_code=school, calendar_date=str(day), to_code=code,
                        event_id="evt-tampered")
    dead_before = _dead_count()
    r = httpx.post(f"{service['base']}/webhooks/aeries/attendance", content=body,
                   headers={"X-Schooldata-Signature": signature(body, "not-the-shared-secret-at-all")})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    tampered = body.replace(f'"student_id": {student}'.encode(), f'"student_id": {student + 1}'.encode())
    assert tampered != body
    r = httpx.post(f"{service['base']}/webhooks/aeries/attendance", content=tampered,
                   headers={"X-Schooldata-Signature": signature(body, SECRET)})
    assert r.status_code == 401
    r = httpx.post(f"{service['base']}/webhooks/aeries/attendance", content=body)  # unsigned
    assert r.status_code == 401
    assert _events("evt-tampered") == 0 and _dead_count() == dead_before
    assert not _query("select 1 from ops.webhook_events where event_id = 'evt-tampered'")


def test_replayed_event_outside_five_minutes_is_refused(service, synced):
    student, school, day, _, code = _a_student_day(service)
    old = datetime.now(UTC) - timedelta(minutes=6)
    body = change_event(student_id=student, school_code=school, calendar_date=str(day), to_code=code,
                        event_id="evt-replayed", sent_at=old, changed_at=old)
    r = send(service["base"], SECRET, body)
    assert r.status_code == 401 and "5 minutes" in r.json()["detail"]
    assert _events("evt-replayed") == 0


def test_valid_event_lands_in_raw_within_seconds_and_duplicate_is_taken_once(service, synced):
    student, school, day, _, code = _a_student_day(service)
    body = change_event(student_id=student, school_code=school, calendar_date=str(day), to_code=code,
                        event_id="evt-live-1", changed_by="teacher-42")
    started = time.monotonic()
    r = send(service["base"], SECRET, body)
    assert r.status_code == 200 and r.json() == {"status": "landed", "event_id": "evt-live-1"}
    assert time.monotonic() - started < 15
    assert _query("select student_id, school_code, calendar_date, to_code, period"
                  " from raw_aeries.attendance_events where event_id = 'evt-live-1'") \
        == [(student, school, day, code, None)]
    # the same delivery again (a sender's retry), and a new delivery reusing the event id
    assert send(service["base"], SECRET, body).json()["status"] == "duplicate"
    again = change_event(student_id=student, school_code=school, calendar_date=str(day), to_code="",
                         event_id="evt-live-1")
    r = send(service["base"], SECRET, again)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert _events("evt-live-1") == 1


def test_unparseable_and_unsupported_go_to_the_dead_letter_queue(service, synced):
    before = _dead_count()
    r = send(service["base"], SECRET, b"{not json")
    assert r.status_code == 202 and r.json()["reason"] == "the body is not JSON"
    body = json.dumps({"event_id": "evt-enroll", "type": "enrollment.changed",
                       "sent_at": datetime.now(UTC).isoformat(), "change": {}}).encode()
    r = send(service["base"], SECRET, body)
    assert r.status_code == 202 and r.json()["reason"].startswith("unsupported event type")
    assert _dead_count() == before + 2
    listed = json.loads(_cli(service["env"], "dead-letters", "list").stdout)
    reasons = {d["reason"] for d in listed}
    assert {"the body is not JSON"} <= reasons
    # the queue keeps the body encrypted: no plain text of it in the table
    blobs = _query("select body_encrypted from ops.webhook_dead_letters")
    assert all(b"enrollment.changed" not in bytes(b[0]) for b in blobs)


def test_dead_letter_replay_works_after_the_fix(service, synced):
    student, school, day, _, _ = _a_student_day(service)
    body = change_event(student_id=student, school_code=school, calendar_date=str(day), to_code="QX",
                        event_id="evt-new-code")
    r = send(service["base"], SECRET, body)
    assert r.status_code == 202 and "absence code table" in r.json()["reason"]
    dead_id = r.json()["dead_letter_id"]
    still = _cli(service["env"], "dead-letters", "replay", str(dead_id))
    assert still.returncode == 1 and json.loads(still.stdout)[0]["status"] == "dead_letter"
    assert _events("evt-new-code") == 0
    # the fix: the district adds the code in Aeries, and the next sync loads the code table
    _query("insert into raw_aeries.absence_codes (school_code, absence_code, title, type_code, _loaded_at,"
           " _dlt_load_id, _dlt_id) select school_code, 'QX', 'New code', 2, now(), _dlt_load_id, 'fix-qx'"
           " from raw_aeries.absence_codes where school_code = %s limit 1", (school,))
    replayed = _cli(service["env"], "dead-letters", "replay", str(dead_id))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)[0]["status"] == "landed"
    assert _events("evt-new-code") == 1
    waiting = {d["dead_letter_id"] for d in json.loads(_cli(service["env"], "dead-letters", "list").stdout)}
    assert dead_id not in waiting
    purged = _cli(service["env"], "dead-letters", "purge", "--replayed")
    assert json.loads(purged.stdout)["purged"] == 1
    assert not _query("select 1 from ops.webhook_dead_letters where dead_letter_id = %s", (dead_id,))


# -- the live model ---------------------------------------------------------------------------
def test_event_is_visible_in_the_live_model_after_dbt_build(service, synced):
    student, school, day, api_code, code = _a_student_day(service)
    body = change_event(student_id=student, school_code=school, calendar_date=str(day), to_code=code,
                        event_id="evt-for-dbt")
    assert send(service["base"], SECRET, body).json()["status"] == "landed"
    future = TODAY + timedelta(days=3)  # a day the API has not returned yet (today, before the sync)
    body = change_event(student_id=student, school_code=school, calendar_date=str(future), to_code=code,
                        event_id="evt-for-dbt-today")
    assert send(service["base"], SECRET, body).json()["status"] == "landed"
    result = run_dbt(["build", "--select", "+fct_attendance_live", "--indirect-selection", "cautious",
                      "--vars", f"{{as_of_date: '{TODAY}'}}"], capture=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    rows = _query("select calendar_date, all_day_code, coalesce(api_all_day_code, ''), is_provisional,"
                  " is_full_day_absent, provisional_event_id, source_loaded_at is not null"
                  " from marts.fct_attendance_live"
                  " where student_id = %s and school_code = %s and calendar_date in (%s, %s)"
                  " order by calendar_date", (student, school, day, future))
    # the API's day is kept beside the provisional code; the future day exists only through the event
    assert rows == [(day, code, api_code, True, True, "evt-for-dbt", True),
                    (future, code, "", True, True, "evt-for-dbt-today", False)]
    others = _query("select count(*) from marts.fct_attendance_live where is_provisional")[0][0]
    assert others >= 2
    # the live model is a view: a later event counts at once, with no dbt run in between
    later = TODAY + timedelta(days=4)
    body = change_event(student_id=student, school_code=school, calendar_date=str(later), to_code=code,
                        event_id="evt-after-dbt")
    assert send(service["base"], SECRET, body).json()["status"] == "landed"
    live = _query("select provisional_event_id from marts.fct_attendance_live where student_id = %s"
                  " and school_code = %s and calendar_date = %s", (student, school, later))
    assert live == [("evt-after-dbt",)]


# -- metrics and a real Prometheus ------------------------------------------------------------
def _metric_lines(service) -> list[str]:
    r = httpx.get(f"{service['base']}/metrics")
    assert r.status_code == 200
    return r.text.splitlines()


def test_metrics_report_the_sync_and_the_dead_letter_depth(service, synced):
    lines = _metric_lines(service)
    by_name = {line.split(" ")[0]: float(line.split(" ")[1])
               for line in lines if line and not line.startswith("#")}
    assert by_name['schooldata_sync_last_run_failed{source="aeries"}'] == 0
    assert by_name['schooldata_sync_last_run_rows_loaded{source="aeries"}'] > 0
    assert by_name['schooldata_sync_runs_total{source="aeries",status="sync_ok"}'] == 1
    ok_responses = by_name['schooldata_sync_http_responses_total{code="200",source="aeries"}']
    assert ok_responses == synced["run"]["requests"]
    success = by_name['schooldata_sync_last_success_timestamp_seconds{source="aeries"}']
    assert abs(success - time.time()) < 900
    depth = _query("select count(*) from ops.webhook_dead_letters where replayed_at is null")[0][0]
    assert by_name['schooldata_webhook_dead_letters{source="aeries_webhook"}'] == depth
    assert by_name['schooldata_circuit_breaker_open{source="aeries"}'] == 0


def test_a_real_prometheus_scrapes_metrics_and_loads_the_alert_rules(service, synced, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("Debian's prometheus package is not installed (apt-get install prometheus)")
    shutil.copy(REPO / "deploy/prometheus/alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        "scrape_configs:\n"
        f"  - job_name: schooldata\n    static_configs: [{{targets: ['127.0.0.1:{service['port']}']}}]\n")
    port = _free_port()
    with open(tmp_path / "prometheus.log", "w") as log:
        proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=log)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline:
            try:
                query = 'schooldata_sync_runs_total{status="sync_ok"}'
                r = httpx.get(f"{api}/query", params={"query": query})
                result = r.json()["data"]["result"] if r.status_code == 200 else []
                if result:
                    value = result[0]
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
        assert value is not None, "Prometheus never scraped the service"
        assert value["metric"]["source"] == "aeries" and float(value["value"][1]) == 1
        targets = httpx.get(f"{api}/targets").json()["data"]["activeTargets"]
        assert targets[0]["health"] == "up"
        groups = httpx.get(f"{api}/rules").json()["data"]["groups"]
        names = {rule["name"] for g in groups for rule in g["rules"]}
        assert {"SchoolDataSyncFailing", "SchoolDataStale", "SchoolDataDeadLettersGrowing"} <= names
    finally:
        proc.terminate()
        proc.wait(timeout=20)
