"""i-Ready growth by test window and subject: the share of students on or above grade level and
the median percent progress to typical and stretch growth (docs/growth-metrics.md)."""

from __future__ import annotations

import streamlit as st

from dlt_pipelines.dashboard import data, filters, ui

TITLE = "i-Ready growth"


def _school_clause(f: filters.Filters) -> tuple[str, tuple]:
    """The i-Ready marts carry the school's name (as the export writes it), not its code."""
    if not f.school_codes:
        return "", ()
    return " and d.school_name = any(%s)", ([f.school_names.get(c) for c in f.school_codes],)


def by_window(f: filters.Filters):
    """Each student's latest sitting in a window; percent progress = 100 x (score - baseline) /
    annual growth measure, as school_kpis computes it."""
    where, params = f.where(school=None, prefix="d.")
    school, school_params = _school_clause(f)
    return data.query(
        "select d.school_year, d.test_window, d.subject, count(*) as students,"
        " round(100.0 * avg(d.is_on_or_above_grade_level::int), 1) as pct_on_or_above_grade_level,"
        " round((percentile_cont(0.5) within group (order by 100.0"
        "   * (d.overall_scale_score - g.baseline_scale_score) / nullif(g.annual_typical_growth_measure, 0)"
        "   ))::numeric, 1) as median_pct_progress_typical,"
        " round((percentile_cont(0.5) within group (order by 100.0"
        "   * (d.overall_scale_score - g.baseline_scale_score) / nullif(g.annual_stretch_growth_measure, 0)"
        "   ))::numeric, 1) as median_pct_progress_stretch"
        " from marts.fct_iready_diagnostics as d"
        " inner join marts.fct_iready_growth as g"
        "   on g.student_id = d.student_id and g.subject = d.subject and g.school_year = d.school_year"
        f" where d.is_latest_in_window and d.test_window in ('BOY', 'MOY', 'EOY'){where}{school}"
        " group by d.school_year, d.test_window, d.subject"
        " order by d.school_year, array_position(array['BOY', 'MOY', 'EOY'], d.test_window), d.subject",
        (*params, *school_params))


def render() -> None:
    st.title(TITLE)
    f = filters.current()
    if not ui.require("fct_iready_diagnostics", "fct_iready_growth"):
        return
    windows = by_window(f)
    if windows.empty:
        st.info("No i-Ready diagnostics for these filters.")
        return
    latest = windows.iloc[-2:] if len(windows) >= 2 else windows
    cols = st.columns(len(latest) * 2)
    for i, row in enumerate(latest.itertuples()):
        cols[2 * i].metric(f"{row.subject.title()} {row.test_window}: on or above grade level",
                           ui.pct(row.pct_on_or_above_grade_level))
        cols[2 * i + 1].metric(f"{row.subject.title()} {row.test_window}: median % progress to typical",
                               ui.pct(row.median_pct_progress_typical))
    windows["window"] = windows["school_year"] + " " + windows["test_window"]
    left, right = st.columns(2)
    with left:
        ui.bars(windows, "window", "pct_on_or_above_grade_level", "subject",
                "On or above grade level (%)", "% of students assessed")
    with right:
        long = windows.melt(id_vars=["window", "subject"],
                            value_vars=["median_pct_progress_typical", "median_pct_progress_stretch"],
                            var_name="measure", value_name="median_pct")
        long["series"] = long["subject"] + " " + long["measure"].str.replace("median_pct_progress_", "to ")
        ui.bars(long, "window", "median_pct", "series", "Median percent progress to annual growth",
                "% of annual growth")
    ui.table(windows.drop(columns="window"), "iready_growth_by_window",
             caption="Each student's latest diagnostic in the window; progress = 100 x (score - baseline) / "
                     "annual typical or stretch growth.")

    st.subheader("Year to date, by subject and grade")
    where, params = f.where(school=None, prefix="d.")
    school, school_params = _school_clause(f)
    year = data.query(
        "select d.school_year, d.subject, d.grade_level, count(*) as students,"
        " round(100.0 * avg(d.is_most_recent_on_or_above_grade_level::int), 1)"
        "   as pct_on_or_above_grade_level,"
        " round(100.0 * avg(d.is_met_typical::int), 1) as pct_met_typical,"
        " round(100.0 * avg(d.is_met_stretch::int), 1) as pct_met_stretch,"
        " percentile_cont(0.5) within group (order by d.percent_progress_typical)"
        "   as median_pct_progress_typical,"
        " percentile_cont(0.5) within group (order by d.percent_progress_stretch)"
        "   as median_pct_progress_stretch"
        f" from marts.fct_iready_growth as d where true{where}{school}"
        " group by d.school_year, d.subject, d.grade_level order by 1, 2, 3", (*params, *school_params))
    ui.table(year, "iready_growth_year")


render()
