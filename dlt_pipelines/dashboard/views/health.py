"""Data health: the pipelines' last runs and their freshness, rejected records, failing dbt tests,
and attendance corrections made after the correction window. Read from the data_health marts
(views over ops and the tests' results: analysts do not read ops or audit)."""

from __future__ import annotations

import streamlit as st

from dlt_pipelines.dashboard import data, filters, ui

TITLE = "Data health"
WARN_HOURS, ERROR_HOURS = 26, 74  # as the ops sources' freshness (dbt_project/models/ops/_ops__sources.yml)


def freshness():
    frame = data.query(
        "select source,"
        " max(started_at) as last_run_started_at,"
        " (array_agg(status order by started_at desc))[1] as last_run_status,"
        " max(finished_at) filter (where status = 'sync_ok') as last_success_at,"
        " round((extract(epoch from now() - max(finished_at) filter (where status = 'sync_ok'))"
        "   / 3600)::numeric, 1)"
        "   as hours_since_success"
        " from marts.data_health_sync_runs group by source order by source")
    frame["freshness"] = [
        "never succeeded" if h is None or h != h else "error" if h > ERROR_HOURS else "warn" if h > WARN_HOURS
        else "ok" for h in frame["hours_since_success"]]
    return frame


def render() -> None:
    st.title(TITLE)
    f = filters.current()
    if not ui.require("data_health_sync_runs", "data_health_rejects", "data_health_test_results"):
        return
    fresh = freshness()
    tests = data.query("select status, count(*) as tests from marts.data_health_test_results group by status")
    counts = dict(zip(tests["status"], tests["tests"], strict=True))
    cols = st.columns(4)
    cols[0].metric("Sources fresh", f"{int((fresh['freshness'] == 'ok').sum())} of {len(fresh)}")
    cols[1].metric("Failing tests", f"{int(counts.get('fail', 0) + counts.get('error', 0)):,}")
    cols[2].metric("Test warnings", f"{int(counts.get('warn', 0)):,}")
    cols[3].metric("Tests passing", f"{int(counts.get('pass', 0)):,}")

    st.subheader("Freshness")
    ui.table(fresh, "freshness", caption=f"A source is stale after {WARN_HOURS} h without a successful run "
                                         f"(warn) and {ERROR_HOURS} h (error).")
    if "fct_attendance_daily" in data.marts():
        where, params = f.where(grade=None)
        latest = data.query("select max(calendar_date) as latest_attendance_date,"
                            " max(source_loaded_at) as attendance_loaded_at"
                            f" from marts.fct_attendance_daily where true{where}", params)
        ui.table(latest, "attendance_freshness")

    st.subheader("Last runs per source")
    runs = data.query("select source, run_id, status, started_at, finished_at, duration_seconds, requests,"
                      " retries, rejects, error_type from marts.data_health_sync_runs where run_recency <= 5"
                      " order by source, started_at desc")
    ui.table(runs, "sync_runs")

    st.subheader("Rejected records")
    rejects = data.query("select r.source, r.run_id, r.resource, r.column_name, r.reason, r.rejected_records,"
                         " r.last_rejected_at, s.run_recency = 1 as in_latest_run"
                         " from marts.data_health_rejects as r"
                         " left join marts.data_health_sync_runs as s on s.run_id = r.run_id"
                         " order by r.last_rejected_at desc limit 500")
    if rejects.empty:
        st.success("No rejected records.")
    ui.table(rejects, "rejects")

    st.subheader("dbt tests not passing")
    failing = data.query("select status, severity, test_name, tested_node, column_name, failures,"
                         " audit_relation, executed_at from marts.data_health_test_results"
                         " where status <> 'pass' order by"
                         " array_position(array['error', 'fail', 'warn', 'skipped'], status), test_name")
    if failing.empty:
        st.success("Every dbt test passed in its latest run.")
    ui.table(failing, "failing_tests",
             caption="The failing rows are in the `audit` tables named here (the data team reads them).")

    st.subheader("Corrections after the correction window")
    if "fct_attendance_corrections" not in data.marts():
        ui.require("fct_attendance_corrections")
        return
    where, params = f.where(grade=None, year=None)
    late = data.query("select school_code, calendar_date, student_id, correction_type, old_all_day_code,"
                      " new_all_day_code, correction_deadline, detected_at"
                      f" from marts.fct_attendance_corrections where not is_within_window{where}"
                      " order by detected_at desc, calendar_date desc", params)
    if late.empty:
        st.success("No correction was made after its correction window.")
    ui.table(late, "late_corrections",
             caption="Changes to a day's attendance codes detected after its correction deadline.")


render()
