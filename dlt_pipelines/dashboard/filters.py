"""The sidebar filters every page shares: school year, school and grade.

Options come from ``marts.student_summary`` (the SIS spine); in a deployment without Aeries
there is nothing to filter and the pages say which source is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from . import data

ALL = "All"


@dataclass(frozen=True)
class Filters:
    school_year: str | None
    school_codes: tuple[int, ...]      # empty = every school
    grades: tuple[int, ...]            # empty = every grade
    school_names: dict[int, str]

    def where(self, school: str = "school_code", grade: str | None = "grade_level",
              year: str | None = "school_year", prefix: str = "") -> tuple[str, tuple]:
        """``and ...`` clauses and their parameters for a query over a mart's columns
        (``prefix``: the table's alias, ``s.``)."""
        clauses, params = [], []
        if year and self.school_year:
            clauses.append(f"{prefix}{year} = %s")
            params.append(self.school_year)
        if school and self.school_codes:
            clauses.append(f"{prefix}{school} = any(%s)")
            params.append(list(self.school_codes))
        if grade and self.grades:
            clauses.append(f"{prefix}{grade} = any(%s)")
            params.append(list(self.grades))
        return "".join(f" and {c}" for c in clauses), tuple(params)

    def label(self, code) -> str:
        name = self.school_names.get(int(code)) if code is not None else None
        return f"{name} ({code})" if name else str(code)


def sidebar() -> Filters:
    if "student_summary" not in data.marts():
        st.sidebar.caption("No school filters: this deployment has no Aeries student marts.")
        return Filters(None, (), (), {})
    options = data.query("select distinct school_year, school_code, school_name, grade_level"
                         " from marts.student_summary")
    years = sorted(options["school_year"].dropna().unique(), reverse=True)
    names = {int(r.school_code): r.school_name for r in options.dropna(subset=["school_code"])
             .drop_duplicates("school_code").itertuples()}
    st.sidebar.header("Filters")
    year = st.sidebar.selectbox("School year", years, key="filter_year") if years else None
    codes = st.sidebar.multiselect("School", sorted(names), key="filter_schools",
                                   format_func=lambda c: f"{names[c]} ({c})" if names[c] else str(c),
                                   placeholder="All schools")
    grade_options = sorted(int(g) for g in options["grade_level"].dropna().unique())
    grades = st.sidebar.multiselect("Grade", grade_options, key="filter_grades", placeholder="All grades")
    return Filters(year, tuple(codes), tuple(grades), names)


def current() -> Filters:
    """The filters app.py drew this run (or drawn here when a page runs on its own)."""
    found = st.session_state.get("_filters")
    if not isinstance(found, Filters):
        found = st.session_state["_filters"] = sidebar()
    return found
