"""School drill-down: one school's students filtered by grade, attendance tier and trend, and the
ranked intervention list (student ids only; names are on a separate page for pii_reader)."""

from __future__ import annotations

import streamlit as st

from dlt_pipelines.dashboard import data, filters, ui

TITLE = "School drill-down"
LIST_COLUMNS = ("student_id, grade_level, intervention_priority_rank, intervention_priority,"
                " attendance_tier, attendance_rate, recent_attendance_rate, attendance_trend,"
                " is_chronically_absent, academic_risk, reading_relative_placement,"
                " math_relative_placement, enrollment_status")
TIERS = ["satisfactory", "at-risk", "moderate", "severe", "unknown"]
TRENDS = ["improving", "stable", "declining"]


def intervention_list(f: filters.Filters, school: int, tiers: list[str], trends: list[str]):
    """Ranked: intervention priority (1 intensive first), then the lowest attendance rate."""
    where, params = f.where(school=None)
    sql = (f"select {LIST_COLUMNS} from marts.student_summary where school_code = %s{where}"
           " and attendance_tier = any(%s) and coalesce(attendance_trend, 'stable') = any(%s)"
           " order by intervention_priority_rank, attendance_rate nulls last, student_id")
    return data.query(sql, (school, *params, tiers, trends))


def render() -> None:
    st.title(TITLE)
    f = filters.current()
    if not ui.require("student_summary", "school_kpis"):
        return
    choices = list(f.school_codes) or sorted(f.school_names)
    if not choices:
        st.info("No school has students in the marts yet. Fix: run `make demo` or `make nightly`.")
        return
    school = st.selectbox("School", choices, format_func=f.label, key="drill_school")
    left, right = st.columns(2)
    tiers = left.multiselect("Attendance tier", TIERS, default=TIERS, key="drill_tiers")
    trends = right.multiselect("Trend (recent 30 days vs the year)", TRENDS, default=TRENDS,
                               key="drill_trends")

    students = intervention_list(f, school, tiers, trends)
    cols = st.columns(4)
    cols[0].metric("Students listed", f"{len(students):,}")
    cols[1].metric("Intensive", f"{int((students['intervention_priority_rank'] == 1).sum()):,}")
    cols[2].metric("Chronically absent", f"{int(students['is_chronically_absent'].fillna(False).sum()):,}")
    cols[3].metric("Declining attendance", f"{int((students['attendance_trend'] == 'declining').sum()):,}")

    st.subheader("Intervention list")
    ui.table(students, f"intervention_list_{school}",
             caption="Ranked by intervention priority (attendance tier x i-Ready academic risk), then the "
                     "lowest attendance rate. Student ids only.")

    st.subheader("By grade and test window")
    where, params = f.where(school=None)
    kpis = data.query(
        "select grade_level, school_year, test_window, enrollment, average_daily_attendance,"
        " chronic_absentee_rate, tier_satisfactory_count, tier_at_risk_count, tier_moderate_count,"
        " tier_severe_count, reading_pct_on_or_above_grade_level, math_pct_on_or_above_grade_level"
        f" from marts.school_kpis where school_code = %s{where}"
        " order by school_year, grade_level, array_position(array['BOY', 'MOY', 'EOY'], test_window)",
        (school, *params))
    ui.table(kpis, f"school_kpis_{school}")


render()
