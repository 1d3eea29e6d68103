"""i-Ready loader benchmark: a 200,000-row export pair (ELA + Math, real header layout) loaded
into a brand-new database by the real CLI in a subprocess; wall time and the subprocess's
peak RSS against the bars (30 s, 300 MB). Then a re-run, which must skip both files.

The peak RSS is the load process's own ``VmHWM`` (bench/_proc.py), so memory the benchmark process
holds from earlier benchmarks (the district generator) is never counted."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._proc import run_measured
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.simulators.iready_exports import write_bench_exports

BAR_SECONDS = 30.0
BAR_MB = 300.0

def _load(src: Path, env: dict) -> tuple[float, float, float, int, str]:
    """The CLI in a process of its own; its own peak RSS (VmHWM), not the benchmark's."""
    result = run_measured([sys.executable, "-m", "dlt_pipelines", "iready", "--source-url", str(src)], env,
                          timeout=600)
    return result["seconds"], result["peak_mb"], result["cpu_seconds"], result["returncode"], result["output"]


def run(quick: bool = False) -> list[dict]:
    rows = 20_000 if quick else 200_000
    server = wh.resolve()
    database = f"bench_iready_{uuid.uuid4().hex[:8]}"
    admin = wh.connect(wh.Warehouse(**{**server.__dict__, "database": "postgres"}))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{database}"')
    results: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-iready-") as tmp:
            started = time.monotonic()
            paths = write_bench_exports(Path(tmp) / "exports", rows=rows, seed=7)
            written = time.monotonic() - started
            data_rows = sum(p.read_bytes().count(b"\n") - 1 for p in paths)
            size_mb = sum(p.stat().st_size for p in paths) / 1e6
            env = {**os.environ, "PGDATABASE": database, "WAREHOUSE_DSN": "",
                   "PGHOST": server.host, "PGPORT": str(server.port), "PGUSER": server.user,
                   "PGPASSWORD": server.password, "SCHOOLDATA_PIPELINES_DIR": str(Path(tmp) / "dlt"),
                   "SCHOOLDATA_LOG_LEVEL": "WARNING"}
            load_before = os.getloadavg()[0]
            seconds, peak_mb, cpu, rc, output = _load(Path(tmp) / "exports", env)
            target = wh.Warehouse(**{**server.__dict__, "database": database})
            with wh.cursor(target) as cur:
                cur.execute("select count(*) from raw_iready.diagnostic_results")
                loaded = cur.fetchone()[0]
            complete = rc == 0 and loaded == data_rows
            if not complete:
                print(output, file=sys.stderr)
            again, _, _, rc2, _ = _load(Path(tmp) / "exports", env)
            label = f"{data_rows:,}-row export pair ({size_mb:.0f} MB)"
            results += [
                {"name": f"iready: load {label}", "value": seconds, "unit": "s",
                 "bar": f"< {BAR_SECONDS:.0f} s", "ok": complete and seconds < BAR_SECONDS},
                {"name": "iready: peak RSS of the load process (its own VmHWM)", "value": peak_mb,
                 "unit": "MB",
                 "bar": f"< {BAR_MB:.0f} MB", "ok": complete and peak_mb < BAR_MB},
                {"name": "iready: CPU time of the load process (Postgres not included)", "value": cpu,
                 "unit": "s", "bar": None, "ok": None},
                {"name": "iready: host load average (1 min) when the load started", "value": load_before,
                 "unit": "", "bar": None, "ok": None},
                {"name": "iready: rows loaded per second", "value": loaded / seconds if seconds else 0,
                 "unit": "rows/s", "bar": None, "ok": None},
                {"name": "iready: re-run, both files unchanged", "value": again, "unit": "s", "bar": None,
                 "ok": rc2 == 0},
                {"name": "iready: simulator writes the export pair", "value": written, "unit": "s",
                 "bar": None, "ok": None},
            ]
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{database}" with (force)')
        admin.close()
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
