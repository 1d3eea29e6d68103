"""The analysts' dashboards (docs/dashboards.md) against a small built warehouse: every page
through Streamlit's AppTest, then `python -m dlt_pipelines dashboard` (what `make dashboard`
runs) in a real headless Chromium, one screenshot per page, checking titles and that a KPI shown
equals the mart's value.

The app reads as the `analyst` login (PGUSER=analyst here: a configured server's analyst
login), so every page also proves it needs nothing outside `marts`. A deployment without a
source is simulated by revoking the analyst's grant on that source's marts. Screenshots go to
.local/screenshots/ (git-ignored); docs/img/dashboard_overview.png in the README is one of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dlt_pipelines.common import embedded_pg, roles, warehouse
from tests.integration.test_docs_site import CHROMIUM_ARGS, SCREENSHOTS, _ensure_chromium, _free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dlt_pipelines" / "dashboard" / "app.py"
PAGES = {  # view file -> (url path, title)
    "views/overview.py": ("", "District overview"),
    "views/drilldown.py": ("school", "School drill-down"),
    "views/growth.py": ("growth", "i-Ready growth"),
    "views/health.py": ("health", "Data health"),
}


@pytest.fixture(scope="module")
def dash(new_database, pg_embedded, tmp_path_factory):
    """1 school x 20 students loaded by every pipeline, `dbt build` (data tests included, so the
    data-health page has results); then the environment of the analyst login."""
    from dlt_pipelines.aeries import cli as aeries_cli
    from dlt_pipelines.bakalari import cli as bakalari_cli
    from dlt_pipelines.dbt_runner import run_dbt
    from dlt_pipelines.iready import cli as iready_cli
    from dlt_pipelines.simulators.stack import StackConfig, start_stack

    root = tmp_path_factory.mktemp("dashboard")
    env = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(root / "local"),
           "SCHOOLDATA_PIPELINES_DIR": str(root / "dlt"), "DBT_TARGET_PATH": str(root / "target"),
           "DBT_LOG_PATH": str(root / "logs")}
    stack = start_stack(StackConfig(n_schools=1, students_per_school=20), iready_dir=root / "iready")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("WAREHOUSE_DSN", "DBT_GRANT_ROLES", "DASHBOARD_DSN", "DASHBOARD_PII",
                    "DASHBOARD_PII_DSN"):
            mp.delenv(key, raising=False)
        for key, value in {**env, **stack.source_env()}.items():
            mp.setenv(key, value)
        try:
            assert aeries_cli.main(["--rate-limit", "0"]) == 0
            assert iready_cli.main([]) == 0
            assert bakalari_cli.main(["--requests-per-minute", "0"]) == 0
        finally:
            stack.stop()
        result = run_dbt(["build", "--exclude", "resource_type:unit_test"], capture=True)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        admin = warehouse.resolve()
        mp.setenv("PGUSER", roles.ANALYST)
        mp.setenv("PGPASSWORD", embedded_pg.read_password(pg_embedded, roles.ANALYST))
        pii = warehouse.Warehouse(**{**admin.__dict__, "user": roles.PII_READER,
                                     "password": embedded_pg.read_password(pg_embedded, roles.PII_READER)})
        yield {"admin": admin, "pii_dsn": pii.dsn, "env": dict(os.environ)}


def _scalar(dash, sql: str, params: tuple = ()):
    with warehouse.cursor(dash["admin"]) as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def _app(page: str | None = None):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _expected_kpis(dash) -> dict[str, str]:
    """The values each page's first KPI must show, computed here from the marts."""
    rate = _scalar(dash, "select round(100.0 * sum(days_present) / sum(days_enrolled), 1)"
                         " from marts.fct_attendance_student_year")
    school = _scalar(dash, "select min(school_code) from marts.student_summary")
    listed = _scalar(dash, "select count(*) from marts.student_summary where school_code = %s", (school,))
    passing = _scalar(dash, "select count(*) from marts.data_health_test_results where status = 'pass'")
    return {"Attendance rate": f"{rate:.1f}%", "Students listed": f"{listed:,}",
            "Tests passing": f"{passing:,}", "Sources fresh": "3 of 3"}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_tables_and_csv_downloads(dash, page):
    at = _app(page)
    assert [t.value for t in at.title] == [PAGES[page][1]]
    assert at.metric, "no KPI"
    assert len(at.dataframe) >= 1
    assert len(at.get("download_button")) == len(at.dataframe)  # a CSV download under every table
    assert not at.info, [i.value for i in at.info]  # every source is there


def test_kpis_equal_the_marts(dash):
    expected = _expected_kpis(dash)
    shown = {**_metrics(_app("views/overview.py")), **_metrics(_app("views/drilldown.py")),
             **_metrics(_app("views/health.py"))}
    for label, value in expected.items():
        assert shown[label] == value, (label, shown)
    at = _app("views/growth.py")
    year, window, subject = "2024-2025", "EOY", "reading"
    share = _scalar(dash, "select round(100.0 * avg(is_on_or_above_grade_level::int), 1)"
                          " from marts.fct_iready_diagnostics where is_latest_in_window and school_year = %s"
                          " and test_window = %s and subject = %s", (year, window, subject))
    assert _metrics(at)[f"Reading {window}: on or above grade level"] == f"{share:.1f}%"


def test_the_intervention_list_is_ranked_ids_without_names(dash):
    at = _app("views/drilldown.py")
    frame = at.dataframe[0].value
    assert list(frame["intervention_priority_rank"]) == sorted(frame["intervention_priority_rank"])
    assert "student_id" in frame.columns
    assert not {c for c in frame.columns if "name" in c}
    # the tier filter narrows the list
    at.multiselect(key="drill_tiers").set_value(["satisfactory"]).run()
    narrowed = at.dataframe[0].value
    assert set(narrowed["attendance_tier"]) <= {"satisfactory"} and len(narrowed) <= len(frame)


def test_filters_apply_to_the_queries(dash):
    at = _app("views/overview.py")
    grade = _scalar(dash, "select min(grade_level) from marts.fct_attendance_student_year")
    at.multiselect(key="filter_grades").set_value([grade]).run()
    rate = _scalar(dash, "select round(100.0 * sum(days_present) / sum(days_enrolled), 1)"
                         " from marts.fct_attendance_student_year where grade_level = %s", (grade,))
    assert _metrics(at)["Attendance rate"] == f"{rate:.1f}%"
    chronic = at.dataframe[1].value
    assert set(chronic["grade_level"]) == {grade}


def test_late_corrections_are_listed(dash):
    with warehouse.cursor(dash["admin"]) as cur:
        cur.execute("select student_id, school_code from marts.student_summary limit 1")
        student, school = cur.fetchone()
        cur.execute("insert into marts.fct_attendance_corrections (correction_id, student_id, school_code,"
                    " calendar_date, correction_type, is_cleared, first_seen_at, old_code_seen_at,"
                    " detected_at, correction_deadline, is_within_window)"
                    " values ('dash-probe', %s, %s, '2025-03-03', 'recoded', false, now(), now(), now(),"
                    " '2025-03-10', false)", (student, school))
    try:
        at = _app("views/health.py")
        late = at.dataframe[-1].value
        assert list(late["student_id"]) == [student]
    finally:
        with warehouse.cursor(dash["admin"]) as cur:
            cur.execute("delete from marts.fct_attendance_corrections where correction_id = 'dash-probe'")


def test_a_deployment_without_iready_or_data_health_marts_says_so(dash):
    revoked = ("marts.fct_iready_growth", "marts.fct_iready_diagnostics", "marts.data_health_sync_runs")
    with warehouse.cursor(dash["admin"]) as cur:
        cur.execute(f"revoke select on {', '.join(revoked)} from analyst")
    try:
        growth = _app("views/growth.py")
        assert any("No i-Ready in this deployment" in i.value for i in growth.info)
        health = _app("views/health.py")
        assert any("not built yet" in i.value and "make transform" in i.value for i in health.info)
        assert _app("views/overview.py").metric  # the other pages go on
    finally:
        with warehouse.cursor(dash["admin"]) as cur:
            cur.execute(f"grant select on {', '.join(revoked)} to analyst")


def test_names_only_on_the_configured_pii_page(dash, monkeypatch):
    at = _app()
    with pytest.raises(ValueError):
        at.switch_page("views/names.py").run()
    monkeypatch.setenv("DASHBOARD_PII_DSN", dash["pii_dsn"])
    at = _app("views/names.py")
    assert [t.value for t in at.title] == ["Intervention list with names"]
    frame = at.dataframe[0].value
    assert {"last_name", "first_name", "student_id"} <= set(frame.columns) and len(frame) > 0
    assert frame["last_name"].notna().all()


def test_the_launcher_refuses_a_login_without_marts(dash, new_database, monkeypatch):
    from dlt_pipelines.common.errors import OperatorError
    from dlt_pipelines.dashboard import cli

    env = new_database()
    empty = warehouse.Warehouse(**{**dash["admin"].__dict__, "database": env["PGDATABASE"],
                                   "user": roles.ANALYST, "password": os.environ["PGPASSWORD"]})
    with pytest.raises(OperatorError) as exc:
        cli.check(empty)
    assert "reads no table in schema marts" in exc.value.message and "make demo" in exc.value.fix


@pytest.fixture(scope="module")
def server(dash):
    """`python -m dlt_pipelines dashboard` as `make dashboard` runs it."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dlt_pipelines", "dashboard", "--port", str(port)],
                            cwd=REPO, env=dash["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the dashboard did not answer within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    executable = _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def test_pages_in_a_browser_show_titles_and_the_marts_numbers(dash, server, browser):
    expected = _expected_kpis(dash)
    kpi_of = {"views/overview.py": "Attendance rate", "views/drilldown.py": "Students listed",
              "views/health.py": "Tests passing", "views/growth.py": None}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        for view, (path, title) in PAGES.items():
            page.goto(f"{server}/{path}")
            page.get_by_role("heading", name=title, level=1).wait_for(timeout=30_000)
            label = kpi_of[view]
            metric = page.locator('[data-testid="stMetric"]',
                                  has_text=label or "on or above grade level").first
            metric.wait_for(timeout=30_000)
            if label:
                value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
                assert value == expected[label], (view, label, value)
            # the charts have drawn (vega renders a canvas or svg) before the screenshot
            if view in ("views/overview.py", "views/growth.py"):
                page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
                             ).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            body = page.inner_text("body")
            assert "Traceback" not in body and "Page not found" not in body
            assert "Deploy" not in body  # the deploy button is hidden
            page.screenshot(path=str(SCREENSHOTS / f"dashboard_{Path(view).stem}.png"))
    finally:
        page.close()
