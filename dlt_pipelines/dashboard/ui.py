"""Small building blocks the pages share: tables with a CSV download, missing-source notes, charts."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from . import data

# which source each mart comes from, to say what the deployment lacks (README "Deployment shapes")
SOURCE_OF = {"fct_attendance_daily": "Aeries", "fct_attendance_student_year": "Aeries",
             "fct_attendance_corrections": "Aeries", "school_kpis": "Aeries", "student_summary": "Aeries",
             "fct_iready_diagnostics": "i-Ready", "fct_iready_growth": "i-Ready"}


LEGEND = alt.Legend(orient="bottom", columns=2, labelLimit=0)


def require(*marts: str) -> bool:
    """True when every mart exists; otherwise says which source the deployment lacks."""
    missing = [m for m in marts if m not in data.marts()]
    if not missing:
        return True
    sources = sorted({SOURCE_OF.get(m, "") for m in missing} - {""})
    if sources:
        st.info(f"No {' or '.join(sources)} in this deployment: "
                f"{', '.join('marts.' + m for m in missing)} does not exist.")
    else:
        st.info(f"{', '.join('marts.' + m for m in missing)} is not built yet. "
                "Fix: run `make transform` (or `make demo`).")
    return False


def table(frame: pd.DataFrame, key: str, caption: str | None = None) -> None:
    """A table and its CSV download."""
    if caption:
        st.caption(caption)
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button("Download CSV", frame.to_csv(index=False).encode(), file_name=f"{key}.csv",
                       mime="text/csv", key=f"csv_{key}")


def line(frame: pd.DataFrame, x: str, y: str, color: str, title: str, y_title: str) -> None:
    """A line chart whose y-axis fits the data (it does not start at 0)."""
    chart = (alt.Chart(frame, title=title).mark_line(point=False)
             .encode(x=alt.X(f"{x}:T", title=None),
                     y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
                     color=alt.Color(f"{color}:N", title=None, legend=LEGEND),
                     tooltip=[color, x, alt.Tooltip(y, format=".1f")])
             .properties(width="container", height=320))
    st.altair_chart(chart, width="stretch")


def bars(frame: pd.DataFrame, x: str, y: str, color: str, title: str, y_title: str,
         stack: bool = False) -> None:
    encode = {"x": alt.X(f"{x}:N", title=None, sort=None),
              "y": alt.Y(f"{y}:Q", title=y_title, stack=stack or None),
              "color": alt.Color(f"{color}:N", title=None, legend=LEGEND),
              "tooltip": [x, color, y]}
    if not stack:
        encode["xOffset"] = alt.XOffset(f"{color}:N")
    chart = alt.Chart(frame, title=title).mark_bar().encode(**encode)
    chart = chart.properties(width="container", height=320)
    st.altair_chart(chart, width="stretch")


def pct(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.1f}%"


def number(value, digits: int = 1) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):,.{digits}f}"
