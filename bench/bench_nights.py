"""Property test of the nightly attendance path at a bench's length: the hypothesis test of
``tests/integration/test_attendance_nights.py`` (random nights of office edits, the nightly and
the sweep, an incremental dbt build, checked against the truth and a full refresh) with 300
nights instead of CI's 50 (``--quick``: 20). One row: whether every night held, and the time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NIGHTS, QUICK_NIGHTS = 300, 20


def row(name: str, value, unit: str, bar: str | None = None, ok: bool | None = None) -> dict:
    return {"name": name, "value": value, "unit": unit, "bar": bar, "ok": ok}


def run(quick: bool = False) -> list[dict]:
    nights = QUICK_NIGHTS if quick else NIGHTS
    env = {**os.environ, "ATTENDANCE_NIGHTS_EXAMPLES": str(nights)}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/integration/test_attendance_nights.py"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 1)
    ok = result.returncode == 0
    rows = [row(f"attendance property: {nights} random nights hold (raw = truth, incremental = full "
                "refresh, history complete)", nights if ok else 0, "nights", f"all {nights}", ok),
            row(f"attendance property: {nights} nights wall", seconds, "s")]
    if not ok:
        rows[0]["error"] = (result.stdout + result.stderr)[-600:]
    return rows
