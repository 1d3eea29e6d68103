"""dbt attendance benchmark on the large workload: 50 schools x 1,500 students, full year.

The same measurement as ``bench_dbt.py`` (Aeries landing not timed, then the full build and the
nightly incremental build), on a district ten times the size. The 90 s / 20 s bars were set for
the 7 x 1,000 district, so these figures are reported, not judged: they show how the build
scales and how much of the nightly build is fixed cost (start-up, parse, snapshot) rather than
the correction window.

Run alone: ``python -m bench --only dbt_large`` (``--quick``: 5 schools x 300 students to Oct 31).
"""

from __future__ import annotations

from datetime import date

from bench.bench_dbt import measure

LARGE = {"n_schools": 50, "students_per_school": 1500, "end": date(2025, 6, 11)}
QUICK = {"n_schools": 5, "students_per_school": 300, "end": date(2024, 10, 31)}


def run(quick: bool = False) -> list[dict]:
    return measure(QUICK if quick else LARGE, label="quick: large " if quick else "large: ", bars=False)
