"""The intervention list with students' names: only when configured (DASHBOARD_PII=1 or
DASHBOARD_PII_DSN), read as pii_reader, whose every statement the server logs. Nothing here
is cached or logged by the app."""

from __future__ import annotations

import streamlit as st

from dlt_pipelines.dashboard import connection, filters, ui
from dlt_pipelines.dashboard import data as dashboard_data

TITLE = "Intervention list with names"


def render() -> None:
    st.title(TITLE)
    if not connection.pii_enabled():
        st.info("Names are not configured for this dashboard. Fix: see docs/dashboards.md (DASHBOARD_PII).")
        return
    st.warning("Personal data (FERPA): every read on this page is recorded in the server's access log. "
               "Do not export it outside the district's systems.")
    f = filters.current()
    if not ui.require("student_summary"):
        return
    where, params = f.where(prefix="s.")
    frame = dashboard_data.query_restricted(
        "select s.student_id, p.last_name, p.first_name, s.school_code, s.grade_level,"
        " s.intervention_priority_rank, s.intervention_priority, s.attendance_tier, s.attendance_rate,"
        " s.academic_risk"
        " from marts.student_summary as s"
        " left join restricted.restricted_people as p on p.person_id = 'sis_student:' || s.student_id"
        f" where s.intervention_priority_rank <= 2{where}"
        " order by s.intervention_priority_rank, s.attendance_rate nulls last, s.student_id", params)
    st.caption("Students with intensive or targeted priority.")
    ui.table(frame, "intervention_list_names")


render()
