"""Synthetic district generation: the large workload (50 schools x 1,500 students, full
year, every student-day recorded) streamed in a child process; peak RSS must stay under
1 GB. Determinism is checked by hashing one school's attendance from two generations."""

from __future__ import annotations

import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time, hashlib
from dlt_pipelines.simulators.district import District, DistrictConfig
n_schools, per_school, stream_all = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "all"
t0 = time.monotonic()
d = District(DistrictConfig(n_schools=n_schools, students_per_school=per_school, positive_schools="all"))
days = periods = 0
for school in (d.schools if stream_all else []):
    for record in d.attendance(school.school_code):
        days += 1
        periods += len(record.classes)
first = d.schools[0].school_code
digest = hashlib.sha256()
for record in d.attendance(first):
    digest.update(repr(record).encode())
print(json.dumps({"seconds": time.monotonic() - t0, "days": days, "periods": periods,
                  "digest": digest.hexdigest(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _generate(n_schools: int, per_school: int, stream_all: bool = True) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n_schools), str(per_school),
                          "all" if stream_all else "first"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    n_schools, per_school = (7, 1000) if quick else (50, 1500)
    started = time.monotonic()
    first = _generate(n_schools, per_school)
    # A second generation with the same seed must give the first school's attendance byte for byte.
    second = _generate(n_schools, per_school, stream_all=False)
    label = f"{n_schools}x{per_school}"
    same = first["digest"] == second["digest"]
    return [
        {"name": f"district {label}: generate + stream", "value": first["seconds"], "unit": "s",
         "bar": None, "ok": None},
        {"name": f"district {label}: student-days", "value": first["days"], "unit": "rows",
         "bar": None, "ok": None},
        {"name": f"district {label}: period marks", "value": first["periods"], "unit": "rows",
         "bar": None, "ok": None},
        {"name": f"district {label}: peak RSS", "value": first["peak_rss_mb"], "unit": "MB",
         "bar": "< 1024 MB", "ok": first["peak_rss_mb"] < 1024},
        {"name": "district: same seed, same output", "value": 1.0 if same else 0.0, "unit": "bool",
         "bar": "1", "ok": same},
        {"name": "district bench wall time", "value": time.monotonic() - started, "unit": "s",
         "bar": None, "ok": None},
    ]
