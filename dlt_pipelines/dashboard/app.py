"""The dashboards' entry point: ``streamlit run dlt_pipelines/dashboard/app.py`` (``make dashboard``
runs it with the settings of docs/dashboards.md). Pages live in ``views/`` (not ``pages/``, which
Streamlit would list by itself); the sidebar filters (school year, school, grade) apply to every page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import redact
from dlt_pipelines.dashboard import connection, filters

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="School data dashboards", layout="wide", menu_items={})

pages = [
    st.Page(PAGES / "overview.py", title="District overview", url_path="overview", default=True),
    st.Page(PAGES / "drilldown.py", title="School drill-down", url_path="school"),
    st.Page(PAGES / "growth.py", title="i-Ready growth", url_path="growth"),
    st.Page(PAGES / "health.py", title="Data health", url_path="health"),
]
if connection.pii_enabled():
    pages.append(st.Page(PAGES / "names.py", title="Intervention list with names", url_path="names"))

try:
    st.session_state["_filters"] = filters.sidebar()
    st.navigation(pages).run()
except OperatorError as exc:
    st.error(redact(exc.message))
    if exc.fix:
        st.caption(f"Fix: {redact(exc.fix)}")
