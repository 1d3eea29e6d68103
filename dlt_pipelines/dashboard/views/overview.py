"""District overview: ADA and attendance rate by school over time, chronic absence by school and
grade, Attendance Works tiers (docs/attendance-metrics.md)."""

from __future__ import annotations

import streamlit as st

from dlt_pipelines.dashboard import data, filters, ui

TITLE = "District overview"
TIERS = ["satisfactory", "at-risk", "moderate", "severe"]


def render() -> None:
    st.title(TITLE)
    f = filters.current()
    if not ui.require("fct_attendance_student_year", "fct_attendance_daily"):
        return
    where, params = f.where()
    kpi = data.query(
        "select count(distinct student_id) as students,"
        " round(100.0 * sum(days_present) / nullif(sum(days_enrolled), 0), 1) as attendance_rate,"
        " round(100.0 * count(*) filter (where is_chronically_absent)"
        "   / nullif(count(*) filter (where is_chronic_absence_eligible), 0), 1) as chronic_absentee_rate"
        f" from marts.fct_attendance_student_year where true{where}", params)
    ada = data.query(
        "select round(sum(is_present::int)::numeric / nullif(count(distinct calendar_date), 0), 1) as ada"
        f" from marts.fct_attendance_daily where is_enrolled_day{where}", params)
    row = kpi.iloc[0]
    cols = st.columns(4)
    cols[0].metric("Students", f"{int(row.students):,}")
    cols[1].metric("Average daily attendance (ADA)", ui.number(ada.iloc[0].ada),
                   help="Students present on an average instructional day (present days / school days).")
    cols[2].metric("Attendance rate", ui.pct(row.attendance_rate), help="100 x days present / days enrolled.")
    cols[3].metric("Chronic absentee rate", ui.pct(row.chronic_absentee_rate),
                   help="Absent 10% or more of the days enrolled, among students enrolled 31+ days.")

    weekly = data.query(
        "select school_code, date_trunc('week', calendar_date)::date as week,"
        " round(sum(is_present::int)::numeric / nullif(count(distinct calendar_date), 0), 1) as ada,"
        " round(100.0 * sum(is_present::int) / nullif(count(*), 0), 2) as attendance_rate"
        f" from marts.fct_attendance_daily where is_enrolled_day{where}"
        " group by school_code, week order by week, school_code", params)
    weekly.insert(0, "school", [f.label(c) for c in weekly["school_code"]])
    st.subheader("Attendance by school over time")
    left, right = st.columns(2)
    with left:
        ui.line(weekly, "week", "attendance_rate", "school", "Attendance rate by week (%)",
                "attendance rate (%)")
    with right:
        ui.line(weekly, "week", "ada", "school", "Average daily attendance by week",
                "students present per day")
    ui.table(weekly, "attendance_by_school_week")

    st.subheader("Chronic absentee rate by school and grade")
    chronic = data.query(
        "select school_code, grade_level,"
        " count(*) filter (where is_chronic_absence_eligible) as eligible_students,"
        " count(*) filter (where is_chronically_absent) as chronically_absent,"
        " round(100.0 * count(*) filter (where is_chronically_absent)"
        "   / nullif(count(*) filter (where is_chronic_absence_eligible), 0), 1) as chronic_absentee_rate"
        f" from marts.fct_attendance_student_year where true{where}"
        " group by school_code, grade_level order by school_code, grade_level", params)
    chronic.insert(0, "school", [f.label(c) for c in chronic["school_code"]])
    chronic["grade"] = chronic["grade_level"].map(lambda g: f"grade {g}")
    ui.bars(chronic, "school", "chronic_absentee_rate", "grade", "Chronic absentee rate (%)",
            "% of eligible students")
    ui.table(chronic.drop(columns="grade"), "chronic_absence_by_school_grade")

    st.subheader("Attendance Works tiers")
    tiers = data.query(
        "select school_code, attendance_tier, count(*) as students"
        f" from marts.fct_attendance_student_year where true{where}"
        " group by school_code, attendance_tier order by school_code, attendance_tier", params)
    tiers.insert(0, "school", [f.label(c) for c in tiers["school_code"]])
    ui.bars(tiers, "school", "students", "attendance_tier", "Students by attendance tier", "students",
            stack=True)
    wide = (tiers.pivot_table(index="school", columns="attendance_tier", values="students", fill_value=0)
            .reindex(columns=TIERS, fill_value=0).reset_index())
    ui.table(wide, "attendance_tiers_by_school",
             caption="Satisfactory < 5% absent, at-risk 5-10%, moderate 10-20%, severe 20% or more.")


render()
