"""Run the benchmarks, print a table and write the figures as JSON for comparison.

Each ``bench/bench_<area>.py`` exposes ``run(quick: bool = False) -> list[dict]`` returning
rows ``{"name", "value", "unit", "bar", "ok"}``. The harness starts a throwaway embedded
Postgres (fsync off) and points the PG* variables at it, so benchmarks never touch the
demo warehouse.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from dlt_pipelines.common import embedded_pg, settings


def discover(only: list[str] | None) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    return [n for n in names if not only or n.removeprefix("bench_") in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--output", default="bench/results/latest.json")
    parser.add_argument("--only", nargs="*", help="areas to run, e.g. aeries iready dbt")
    parser.add_argument("--quick", action="store_true", help="smaller workloads (smoke run)")
    args = parser.parse_args(argv)

    os.environ["EMBEDDED_PG_FAST"] = "1"
    srv = embedded_pg.server(settings.local_dir() / "bench" / "pg")
    conn = embedded_pg.start(srv)
    os.environ.update({"PGHOST": conn["host"], "PGPORT": str(conn["port"]),
                       "PGUSER": conn["user"], "PGPASSWORD": conn["password"],
                       "PGDATABASE": conn["database"]})
    os.environ.setdefault("SCHOOLDATA_PIPELINES_DIR", str(settings.local_dir() / "bench" / "dlt"))

    rows: list[dict] = []
    failed = False
    for name in discover(args.only):
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            results = importlib.import_module(f"bench.{name}").run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            results = [{"name": f"{name}: error", "value": None, "unit": "",
                        "bar": None, "ok": False, "error": str(exc)[:300]}]
        for row in results:
            row.setdefault("area", name.removeprefix("bench_"))
            failed |= row.get("ok") is False
        rows.extend(results)
        print(f"{name} took {time.monotonic() - started:.1f}s", file=sys.stderr)
    embedded_pg.stop(srv)

    width = max([len(r["name"]) for r in rows] + [10])
    print(f"\n{'benchmark':<{width}}  {'value':>12}  {'unit':<12} {'bar':<22} ok")
    print("-" * (width + 56))
    for r in rows:
        value = "-" if r.get("value") is None else f"{r['value']:,.2f}"
        ok = {True: "yes", False: "NO", None: ""}[r.get("ok")]
        print(f"{r['name']:<{width}}  {value:>12}  {r.get('unit', ''):<12} {r.get('bar') or '':<22} {ok}")

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "quick": args.quick,
        "results": rows,
    }, indent=2))
    print(f"\nfigures written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
