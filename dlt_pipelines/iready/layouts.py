"""i-Ready "Diagnostic Results" header layouts and their mapping to one canonical column set.

Sources (see docs/iready.md): the 2024-25 vendor signatures (ELA 63 columns, Math 54), the
older vintage names, the 2021-22 layout (ELA 42, Math 35) and the 2026-27 "i-Ready Inform"
renames ("Assessment" in place of "Diagnostic", new "Tactile Graphics").

Every header of every vintage maps to one canonical snake_case name (``CANONICAL``); the raw
table always carries all canonical columns, null where a layout lacks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlt_pipelines.common.filedrop import header_problem

SUBJECTS = ("ela", "math")

_ROSTER = [
    "Last Name", "First Name", "Student ID", "Student Grade", "Academic Year", "School", "Enrolled",
    "User Name", "Sex", "Hispanic or Latino", "Race", "English Language Learner", "Special Education",
    "Economically Disadvantaged", "Migrant", "Class(es)", "Class Teacher(s)", "Report Group(s)",
    "Start Date", "Completion Date", "Baseline Diagnostic (Y/N)", "Most Recent Diagnostic YTD (Y/N)",
    "Duration (min)", "Rush Flag", "Read Aloud", "Overall Scale Score", "Overall Placement",
    "Overall Relative Placement", "Percentile", "Grouping",
]

ELA_DOMAINS = [
    "Phonological Awareness", "Phonics", "High-Frequency Words", "Vocabulary",
    "Comprehension: Overall", "Comprehension: Literature", "Comprehension: Informational Text",
]
MATH_DOMAINS = [
    "Number and Operations", "Algebra and Algebraic Thinking", "Measurement and Data", "Geometry",
]
_TRIPLE = ("Scale Score", "Placement", "Relative Placement")


def _domain_headers(domains: list[str]) -> list[str]:
    return [f"{d} {part}" for d in domains for part in _TRIPLE]


_PROJECTIONS = [
    "Proficiency if Student Shows No Additional Growth",
    "Projection if Student Achieves Typical Growth",
    "Projection if Student Achieves Stretch Growth",
]
_GROWTH = [
    "Diagnostic Gain", "Annual Typical Growth Measure", "Annual Stretch Growth Measure",
    "Percent Progress to Annual Typical Growth (%)", "Percent Progress to Annual Stretch Growth (%)",
    "Mid On Grade Level Scale Score",
]

# 2024-25 vintage, exact order (vendor signatures iReady_24_25_ELA.sig / iReady_24_25_MATH.sig).
CURRENT_ELA = (_ROSTER + ["Lexile Measure", "Lexile Range"] + _domain_headers(ELA_DOMAINS) + _GROWTH[:5]
               + ["Mid On Grade Level Scale Score", "Reading Difficulty Indicator (Y/N)"] + _PROJECTIONS)
CURRENT_MATH = (_ROSTER + ["Quantile Measure", "Quantile Range"] + _domain_headers(MATH_DOMAINS)
                + ["Diagnostic Language"] + _GROWTH + _PROJECTIONS)

_LEGACY_RENAMES = {
    "Baseline Diagnostic (Y/N)": "Diagnostic used to establish Growth Measures (Y/N)",
    "Most Recent Diagnostic YTD (Y/N)": "Most Recent Diagnostic (Y/N)",
}
_INFORM_RENAMES = {
    "Baseline Diagnostic (Y/N)": "Baseline Assessment (Y/N)",
    "Most Recent Diagnostic YTD (Y/N)": "Most Recent Assessment YTD (Y/N)",
    "Diagnostic Gain": "Assessment Gain",
    "Diagnostic Language": "Assessment Language",
}


def _rename(headers: list[str], renames: dict[str, str]) -> list[str]:
    out = []
    for h in headers:
        h = renames.get(h, h)
        if renames is _LEGACY_RENAMES and h.startswith("Comprehension: "):
            h = "Reading " + h
        out.append(h)
    return out


def _inform(headers: list[str]) -> list[str]:
    out = _rename(headers, _INFORM_RENAMES)
    # New in 2026-27 for all subjects; position not published, placed after "Read Aloud".
    out.insert(out.index("Read Aloud") + 1, "Tactile Graphics")
    return out


# 2021-22 layout (OpenEducationAnalytics test data, "format-faithful").
_LEGACY_2021_HEAD = [
    "Last Name", "First Name", "Student ID", "Student Grade", "Academic Year", "School", "Start Date",
    "Completion Date", "Diagnostic used to establish Growth Measures (Y/N)", "Most Recent Diagnostic (Y/N)",
    "Duration (min)", "Rush Flag", "Overall Scale Score", "Overall Placement", "Overall Relative Placement",
    "Percentile", "Grouping",
]
LEGACY_2021_ELA = (_LEGACY_2021_HEAD + ["Lexile Measure", "Lexile Range"]
                   + _domain_headers(["Phonological Awareness", "Phonics", "High-Frequency Words",
                                      "Vocabulary", "Reading Comprehension: Literature",
                                      "Reading Comprehension: Informational Text"])
                   + ["Diagnostic Language", "Annual Typical Growth Measure", "Annual Stretch Growth Measure",
                      "Mid On Grade Level Scale Score", "Reading Difficulty Indicator (Y/N)"])
LEGACY_2021_MATH = (_LEGACY_2021_HEAD + ["Quantile Measure", "Quantile Range"]
                    + _domain_headers(MATH_DOMAINS)
                    + ["Diagnostic Language", "Annual Typical Growth Measure",
                       "Annual Stretch Growth Measure", "Mid On Grade Level Scale Score"])

LAYOUTS: dict[str, dict[str, list[str]]] = {
    "current": {"ela": CURRENT_ELA, "math": CURRENT_MATH},
    "legacy": {"ela": _rename(CURRENT_ELA, _LEGACY_RENAMES), "math": _rename(CURRENT_MATH, _LEGACY_RENAMES)},
    "inform": {"ela": _inform(CURRENT_ELA), "math": _inform(CURRENT_MATH)},
    "legacy_2021": {"ela": LEGACY_2021_ELA, "math": LEGACY_2021_MATH},
}

# District-configured columns seen in real exports; accepted anywhere, never required.
OPTIONAL_HEADERS = [
    "Norming Window", "District State ID", "Account State ID", "School State ID", "Student State ID",
    "504 Plan", "English Language Classification", "English Language Acquisition", "Foster Youth",
    "Gifted and Talented (GATE)", "Homeless Youth", "Student with Disabilities",
]

# Header names that differ from the slug of the canonical name.
_ALIASES = {
    "Gender": "sex",
    "Most Recent Diagnostic YTD (Y/N)": "most_recent_diagnostic_y_n",
    "Most Recent Diagnostic (Y/N)": "most_recent_diagnostic_y_n",
    "Most Recent Assessment YTD (Y/N)": "most_recent_diagnostic_y_n",
    "Diagnostic used to establish Growth Measures (Y/N)": "baseline_diagnostic_y_n",
    "Baseline Assessment (Y/N)": "baseline_diagnostic_y_n",
    "Assessment Gain": "diagnostic_gain",
    "Assessment Language": "diagnostic_language",
    "Percent Progress to Annual Typical Growth (%)": "percent_progress_to_annual_typical_growth",
    "Percent Progress to Annual Stretch Growth (%)": "percent_progress_to_annual_stretch_growth",
    "504 Plan": "plan_504",
}


def slug(header: str) -> str:
    text = header.strip().lower().replace("%", "percent")
    text = re.sub(r"^reading comprehension:", "comprehension:", text)
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def canonical_name(header: str) -> str:
    return _ALIASES.get(header, slug(header))


def normalize_header(cell: str) -> str:
    """Header cell as compared: BOM and outer whitespace removed, inner runs collapsed."""
    return re.sub(r"\s+", " ", cell.replace("\ufeff", "")).strip()


# header text (case-folded) -> canonical name, over every known vintage.
HEADER_TO_CANONICAL: dict[str, str] = {}
for _layout in LAYOUTS.values():
    for _headers in _layout.values():
        for _h in _headers:
            HEADER_TO_CANONICAL[_h.casefold()] = canonical_name(_h)
for _h in OPTIONAL_HEADERS + ["Gender"]:
    HEADER_TO_CANONICAL[_h.casefold()] = canonical_name(_h)

OPTIONAL_CANONICAL = frozenset(canonical_name(h) for h in OPTIONAL_HEADERS)

# Canonical columns in a stable order: current ELA, then what other layouts add.
CANONICAL: list[str] = []
for _h in (CURRENT_ELA + CURRENT_MATH + LAYOUTS["inform"]["ela"] + LEGACY_2021_ELA + OPTIONAL_HEADERS):
    _c = canonical_name(_h)
    if _c not in CANONICAL:
        CANONICAL.append(_c)

DOMAIN_PREFIXES = {
    "ela": [slug(d) for d in ELA_DOMAINS],
    "math": [slug(d) for d in MATH_DOMAINS],
}
SCALE_SCORE_COLUMNS = ["overall_scale_score"] + [
    f"{p}_scale_score" for s in SUBJECTS for p in DOMAIN_PREFIXES[s]]
PLACEMENT_COLUMNS = ["overall_placement"] + [f"{p}_placement" for s in SUBJECTS for p in DOMAIN_PREFIXES[s]]
RELATIVE_PLACEMENT_COLUMNS = ["overall_relative_placement"] + [
    f"{p}_relative_placement" for s in SUBJECTS for p in DOMAIN_PREFIXES[s]]
INT_COLUMNS = SCALE_SCORE_COLUMNS + [
    "mid_on_grade_level_scale_score", "duration_min", "percentile", "grouping", "diagnostic_gain",
    "annual_typical_growth_measure", "annual_stretch_growth_measure",
]
PERCENT_COLUMNS = ["percent_progress_to_annual_typical_growth", "percent_progress_to_annual_stretch_growth"]
DATE_COLUMNS = ["start_date", "completion_date"]
FLAG_COLUMNS = ["baseline_diagnostic_y_n", "most_recent_diagnostic_y_n"]

# Columns the loader adds to every row.
META_COLUMNS = ["subject", "layout", "source_file", "source_line", "file_sha256", "file_modified_at",
                "file_export_date",
                "_loaded_at"]


@dataclass(frozen=True)
class HeaderMatch:
    """How a file's header row relates to the known layouts of its subject."""

    subject: str
    layout: str
    canonical: list[str | None]  # per file column; None for an unknown header
    missing: list[str]  # expected header names absent from the file (in that layout's wording)
    unknown: list[str]  # file headers that no layout knows
    duplicated: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unknown or self.duplicated)

    def problem(self) -> str:
        return header_problem("an i-Ready", sum(1 for c in self.canonical if c), len(self.canonical),
                              self.missing, self.unknown, self.duplicated)


def _vintage_hint(headers: set[str]) -> str:
    if {"baseline assessment (y/n)", "most recent assessment ytd (y/n)", "assessment gain",
            "tactile graphics"} & headers:
        return "inform"
    if "most recent diagnostic (y/n)" in headers and "enrolled" not in headers:
        return "legacy_2021"
    older = {"most recent diagnostic (y/n)", "diagnostic used to establish growth measures (y/n)"}
    if older & headers or any(h.startswith("reading comprehension:") for h in headers):
        return "legacy"
    return "current"


def match_header(cells: list[str], subject: str) -> HeaderMatch:
    """Compare a header row with the layouts of ``subject``; pick the closest layout."""
    names = [normalize_header(c) for c in cells]
    folded = [n.casefold() for n in names]
    canonical = [HEADER_TO_CANONICAL.get(f) for f in folded]
    seen: dict[str, int] = {}
    duplicated = []
    for name, canon in zip(names, canonical, strict=True):
        if canon is None:
            continue
        seen[canon] = seen.get(canon, 0) + 1
        if seen[canon] == 2:
            duplicated.append(name)
    present = {c for c in canonical if c}
    best: tuple[int, int, str] | None = None
    for order, (layout, by_subject) in enumerate(LAYOUTS.items()):
        expected = {canonical_name(h) for h in by_subject[subject]}
        cost = len(expected - present) + len(present - expected - OPTIONAL_CANONICAL)
        if best is None or (cost, order) < best[:2]:
            best = (cost, order, layout)
    assert best is not None
    layout = best[2]
    if layout in ("current", "legacy"):
        # current and legacy share the column set; the wording tells the vintage apart
        layout = "legacy" if _vintage_hint(set(folded)) == "legacy" else "current"
    expected_headers = LAYOUTS[layout][subject]
    expected = {canonical_name(h) for h in expected_headers}
    missing = [h for h in expected_headers if canonical_name(h) not in present]
    unknown = [n for n, c in zip(names, canonical, strict=True)
               if c is None or (c not in expected and c not in OPTIONAL_CANONICAL)]
    return HeaderMatch(subject, layout, canonical, missing, unknown, duplicated)
