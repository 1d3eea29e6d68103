"""Aeries CSV exports of the synthetic district: what a district without an API certificate
drops in a folder (docs/aeries-csv.md). The rows come from the Aeries API simulator's own
answers (the same handlers, as of the simulator's ``today``), so the CSV path and the API path
load the same district.

Files: ``LOC.csv`` (schools), and per school ``DAY_<sc>.csv`` (calendar), ``ABS_<sc>.csv`` (absence
codes), ``STU_<sc>.csv``, ``ENR_<sc>.csv``, ``AHS_<sc>.csv`` and ``ATT_<sc>_<yyyymmdd>.csv`` (one row
per student-day with a code: AL, A0..A9 and the sections SE0..SE9), named with the export date.
Headers in one of the layouts ``codes`` (Aeries field codes), ``labels`` or ``api``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from dlt_pipelines.aeries_files.layouts import ABS, AHS, ATT, DAY, ENR, LOC, STU, Table

from .aeries_api import AeriesSimulator
from .http_base import Request


def _call(handler, **params: str) -> list[dict]:
    response = handler(Request("GET", "/", {}, {}, b"", params))
    return json.loads(response.body)


def _cell(value: Any, kind: str, layout: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if kind == "date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if layout == "codes":
            return f"{day.month}/{day.day}/{day.year}"
        return day.isoformat()
    return str(value)


def _write(path: Path, table: Table, layout: str, records: Iterable[dict],
           fields: list[str] | None = None) -> Path:
    chosen = [f for f in table.fields if fields is None or f.api in fields]
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\r\n")
        out.writerow([f.header(layout) for f in chosen])
        for record in records:
            out.writerow([_cell(record.get(f.api), f.kind, layout) for f in chosen])
    return path


def write_aeries_exports(sim: AeriesSimulator, out_dir: str | Path, *, layout: str = "codes",
                         start: date | None = None, end: date | None = None,
                         school_codes: list[int] | None = None, sections: bool = True) -> list[Path]:
    """Write the district's exports as of ``sim.today``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    district = sim.district
    codes = school_codes or [s.school_code for s in district.schools]
    start = start or district.config.start_date
    end = min(end or district.config.end_date, sim.today)
    stamp = f"{sim.today:%Y%m%d}"
    paths = [_write(out / "LOC.csv", LOC, layout,
                    [r for r in _call(sim._schools) if r["SchoolCode"] in codes])]
    for sc in codes:
        params = {"sc": str(sc)}
        paths.append(_write(out / f"DAY_{sc}.csv", DAY, layout, _call(sim._calendar, **params)))
        paths.append(_write(out / f"ABS_{sc}.csv", ABS, layout, _call(sim._absence_codes, **params)))
        paths.append(_write(out / f"STU_{sc}.csv", STU, layout, _call(sim._students, **params)))
        paths.append(_write(out / f"ENR_{sc}.csv", ENR, layout,
                            _call(sim._enrollment, sc=str(sc), sid="0", year=str(district.fall_year))))
        history = []
        for r in _call(sim._history_summary, sc=str(sc), year=district.school_year):
            history += [{"StudentID": r["StudentID"], **h} for h in r["HistorySummaries"]]
        paths.append(_write(out / f"AHS_{sc}.csv", AHS, layout, history))
        numbers = {e.student_id: e.student_number for e in district.students_at(sc)}
        paths.append(write_attendance(out / f"ATT_{sc}_{stamp}.csv", sc,
                                      district.attendance(sc, start, end, as_of=sim.today), layout,
                                      numbers, sections=sections))
    return paths


def write_attendance(path: Path, school_code: int, records: Iterable, layout: str = "codes",
                     numbers: dict[int, int] | None = None, sections: bool = True) -> Path:
    """ATT rows: one per student-day (``AttendanceRecord``), period codes in A0..A9."""
    wanted = ["SchoolCode", "StudentID", "StudentNumber", "CalendarDate", "AllDayAttendanceCode",
              *(f"Period{p}" for p in range(10)), *((f"Section{p}" for p in range(10)) if sections else ())]
    fields = [f for f in ATT.fields if f.api in wanted]
    fields.sort(key=lambda f: wanted.index(f.api))
    numbers = numbers or {}
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\r\n")
        out.writerow([f.header(layout) for f in fields])
        for student_id, day, all_day, classes in records:
            row = {"SchoolCode": school_code, "StudentID": student_id,
                   "StudentNumber": numbers.get(student_id), "CalendarDate": day,
                   "AllDayAttendanceCode": all_day}
            for period, section, code in classes:
                row[f"Period{period}"] = code
                row[f"Section{period}"] = section
            out.writerow([_cell(row.get(f.api), f.kind, layout) for f in fields])
    return path
