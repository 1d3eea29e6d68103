"""``make demo``: the whole platform end to end against the simulators.

Starts (or reuses) the warehouse, serves the synthetic district, runs every pipeline,
`dbt build`, generates the docs site and prints what was loaded and where to look.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from dlt_pipelines.common import settings, warehouse
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import event, get_logger
from dlt_pipelines.dbt_runner import run_dbt
from dlt_pipelines.simulators.stack import StackConfig, start_stack

log = get_logger("demo")

SUMMARY_SCHEMAS = ("raw_aeries", "raw_iready", "raw_bakalari", "marts", "ops")


def _step(name: str, results: list, fn: Callable[[], int]) -> bool:
    started = time.monotonic()
    print(f"\n==> {name}", flush=True)
    try:
        code = fn()
    except OperatorError as exc:
        print(f"error: {exc}")
        code = exc.exit_code
    seconds = time.monotonic() - started
    results.append((name, code, seconds))
    event(log, "demo_step", step=name, exit_code=code, seconds=round(seconds, 1))
    return code == 0


def _table_counts(wh: warehouse.Warehouse) -> list[tuple[str, str, int]]:
    with warehouse.cursor(wh) as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) and table_name not like '\\_dlt%%'"
            " order by 1, 2", (list(SUMMARY_SCHEMAS),))
        tables = cur.fetchall()
        counts = []
        for schema, table in tables:
            cur.execute(f'select count(*) from "{schema}"."{table}"')
            counts.append((schema, table, cur.fetchone()[0]))
    return counts


def main(argv: list[str]) -> int:
    defaults = StackConfig.from_env()
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines demo")
    parser.add_argument("--schools", type=int, default=defaults.n_schools)
    parser.add_argument("--students-per-school", type=int, default=defaults.students_per_school)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--aeries-via", choices=("api", "csv"),
                        default=settings.env("DEMO_AERIES_VIA", "api"),
                        help="load Aeries through its API (default) or through its CSV exports "
                             "(same district, same marts; DEMO_AERIES_VIA)")
    args = parser.parse_args(argv)

    wh = warehouse.resolve()
    print(f"warehouse: {wh.describe()}")
    config = StackConfig(seed=args.seed, n_schools=args.schools,
                         students_per_school=args.students_per_school)
    demo_dir = settings.local_dir() / "demo"
    print(f"simulating {config.n_schools} schools x {config.students_per_school} students "
          f"(seed {config.seed}), school year {config.start_date} to {config.end_date}")
    via_csv = args.aeries_via == "csv"
    stack = start_stack(config, iready_dir=demo_dir / "iready",
                        aeries_export_dir=demo_dir / "aeries-exports" if via_csv else None)
    stack.apply_env()
    results: list[tuple[str, int, float]] = []
    try:
        from dlt_pipelines.aeries import cli as aeries_cli
        from dlt_pipelines.bakalari import cli as bakalari_cli
        from dlt_pipelines.iready import cli as iready_cli

        if via_csv:
            from dlt_pipelines.aeries_files import cli as aeries_files_cli

            _step("extract aeries (csv exports)", results,
                  lambda: aeries_files_cli.main(["--source-url", str(stack.aeries_export_dir)]))
        else:
            _step("extract aeries", results, lambda: aeries_cli.main(["--rate-limit", "0"]))
        _step("extract i-ready", results, lambda: iready_cli.main([]))
        _step("sync bakalari", results, lambda: bakalari_cli.main(["--requests-per-minute", "0"]))
    finally:
        stack.stop()
    _step("dbt build", results, lambda: run_dbt(["build"], wh).returncode)
    _step("dbt docs generate", results, lambda: run_dbt(["docs", "generate"], wh).returncode)

    print("\n==> loaded")
    for schema, table, count in _table_counts(wh):
        print(f"  {schema + '.' + table:<48} {count:>10,}")
    print("\n==> steps")
    for name, code, seconds in results:
        print(f"  {name:<20} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:6.1f}s")
    docs = Path(settings.dbt_project_dir()) / "target" / "index.html"
    print(f"""
where to look:
  warehouse      {wh.describe()}   (psql: eval "$(make -s db-env)" && psql)
  marts          schema `marts` (student_summary, school_kpis, fct_attendance_daily, ...)
  audit          ops.sync_runs, ops.load_rejects; dbt test failures in schema `audit`
  docs site      {docs}  ->  `make docs-serve` then http://localhost:8080
  quality report `make quality`""")
    return 0 if all(code == 0 for _, code, _ in results) else 1
