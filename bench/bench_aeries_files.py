"""Aeries CSV export benchmark: a 200,000-row attendance export (ATT: one row per student-day,
AL, A0..A9 and the sections, positive attendance so every row carries six period marks) loaded
into a brand-new database by the real CLI (``python -m dlt_pipelines aeries-files``) in a process
of its own; wall time and that process's own peak RSS (VmHWM, bench/_proc.py) against the bars
(30 s, 300 MB). Then a re-run, which must skip the unchanged file.

Run alone: ``python -m bench --only aeries_files`` (``--quick`` for 20,000 rows).
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from bench._proc import run_measured
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.simulators.aeries_exports import write_attendance
from dlt_pipelines.simulators.attendance_gen import section_number

BAR_SECONDS = 30.0
BAR_MB = 300.0
SCHOOL = 101


def _records(rows: int, seed: int = 5):
    """``rows`` student-days: students x school days, by student then date, like an ATT export."""
    rng = random.Random(seed)
    days, day = [], date(2024, 8, 15)
    while len(days) < 170:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    students = -(-rows // len(days))
    n = 0
    for s in range(students):
        student_id = SCHOOL * 100_000 + s + 1
        schedule = [(str(p), section_number(p, rng.randint(1, 30))) for p in range(1, 7)]
        for d in days:
            if n == rows:
                return
            n += 1
            roll = rng.random()
            if roll < 0.05:
                code = rng.choice("AIEU")
                yield student_id, d, code, tuple((p, sec, code) for p, sec in schedule)
            elif roll < 0.10:
                missed = rng.randrange(6)
                yield student_id, d, "", tuple((p, sec, "T" if i == missed else "P")
                                               for i, (p, sec) in enumerate(schedule))
            else:
                yield student_id, d, "P", tuple((p, sec, "P") for p, sec in schedule)


def write_bench_export(out_dir: Path, rows: int) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_attendance(out_dir / "ATT_101_20250613.csv", SCHOOL, _records(rows), "codes")


def run(quick: bool = False) -> list[dict]:
    rows = 20_000 if quick else 200_000
    server = wh.resolve()
    database = f"bench_aeries_files_{uuid.uuid4().hex[:8]}"
    admin = wh.connect(dataclasses.replace(server, database="postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{database}"')
    results: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-aeries-files-") as tmp:
            started = time.monotonic()
            path = write_bench_export(Path(tmp) / "exports", rows)
            written = time.monotonic() - started
            size_mb = path.stat().st_size / 1e6
            target = dataclasses.replace(server, database=database)
            env = {**os.environ, **target.libpq_env(), "WAREHOUSE_DSN": "",
                   "SCHOOLDATA_PIPELINES_DIR": str(Path(tmp) / "dlt"), "SCHOOLDATA_LOG_LEVEL": "WARNING"}
            args = [sys.executable, "-m", "dlt_pipelines", "aeries-files",
                    "--source-url", str(Path(tmp) / "exports")]
            load_before = os.getloadavg()[0]
            first = run_measured(args, env)
            with wh.cursor(target) as cur:
                cur.execute("select count(*) from raw_aeries.attendance_days")
                days = cur.fetchone()[0]
                cur.execute("select count(*) from raw_aeries.attendance_periods")
                periods = cur.fetchone()[0]
            complete = first["returncode"] == 0 and days == rows
            if not complete:
                print(first["output"], file=sys.stderr)
            again = run_measured(args, env)
            seconds, peak = first["seconds"], first["peak_mb"]
            label = f"{rows:,}-row ATT export ({size_mb:.0f} MB, {periods:,} period marks)"
            results += [
                {"name": f"aeries_files: load {label}", "value": seconds, "unit": "s",
                 "bar": f"< {BAR_SECONDS:.0f} s", "ok": complete and seconds < BAR_SECONDS},
                {"name": "aeries_files: peak RSS of the load process (its own VmHWM)", "value": peak,
                 "unit": "MB", "bar": f"< {BAR_MB:.0f} MB", "ok": complete and peak < BAR_MB},
                {"name": "aeries_files: CPU time of the load process (Postgres not included)",
                 "value": first["cpu_seconds"], "unit": "s", "bar": None, "ok": None},
                {"name": "aeries_files: host load average (1 min) when the load started",
                 "value": load_before, "unit": "", "bar": None, "ok": None},
                {"name": "aeries_files: student-days loaded per second",
                 "value": days / seconds if seconds else 0, "unit": "rows/s", "bar": None, "ok": None},
                {"name": "aeries_files: re-run, file unchanged", "value": again["seconds"], "unit": "s",
                 "bar": None, "ok": again["returncode"] == 0},
                {"name": "aeries_files: writing the export", "value": written, "unit": "s", "bar": None,
                 "ok": None},
            ]
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{database}" with (force)')
        admin.close()
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
