"""``make demo``: the whole platform end to end against the simulators.

Starts (or reuses) the warehouse, serves the synthetic district, runs every pipeline,
`dbt build`, generates the docs site and prints what was loaded and where to look.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dlt_pipelines import pii_check
from dlt_pipelines.common import deployment, settings, warehouse
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
    shape = deployment.explicit_sources() or deployment.ALL_SOURCES
    parser.add_argument("--sources", default=",".join(shape),
                        help="the deployment shape to show: e.g. aeries,iready (a US district) or bakalari "
                             "(a Czech school); default SCHOOLDATA_SOURCES, else all three")
    parser.add_argument("--aeries-via", choices=("api", "csv"),
                        default=settings.env("DEMO_AERIES_VIA", "api"),
                        help="load Aeries through its API (default) or through its CSV exports "
                             "(same district, same marts; DEMO_AERIES_VIA)")
    args = parser.parse_args(argv)
    os.environ[deployment.SETTING] = args.sources
    sources = deployment.explicit_sources()
    os.environ[deployment.DBT_ENV] = ",".join(sources)  # dbt builds exactly this shape

    wh = warehouse.resolve()
    print(f"warehouse: {wh.describe()}")
    config = StackConfig(seed=args.seed, n_schools=args.schools,
                         students_per_school=args.students_per_school)
    print(f"simulating {config.n_schools} schools x {config.students_per_school} students "
          f"(seed {config.seed}), school year {config.start_date} to {config.end_date}; "
          f"sources: {', '.join(sources)}")
    # The simulated exports (i-Ready, Aeries CSV) hold student names, like a vendor's: they are
    # written to a private (0700) temporary folder outside the checkout and deleted once loaded.
    shutil.rmtree(settings.local_dir() / "demo", ignore_errors=True)  # where older demos wrote them
    exports = Path(tempfile.mkdtemp(prefix="schooldata-demo-exports-"))
    via_csv = args.aeries_via == "csv"
    stack = start_stack(config, iready_dir=exports / "iready",
                        aeries_export_dir=exports / "aeries" if via_csv and "aeries" in sources else None)
    stack.apply_env()
    results: list[tuple[str, int, float]] = []
    if wh.origin == "embedded":  # a DBA runs `db roles` on a configured server
        from dlt_pipelines.db_cli import main as db_main

        _step("roles and grants", results, lambda: db_main(["roles"]))
    try:
        from dlt_pipelines.aeries import cli as aeries_cli
        from dlt_pipelines.bakalari import cli as bakalari_cli
        from dlt_pipelines.iready import cli as iready_cli

        if "aeries" in sources and via_csv:
            from dlt_pipelines.aeries_files import cli as aeries_files_cli

            _step("extract aeries (csv exports)", results,
                  lambda: aeries_files_cli.main(["--source-url", str(stack.aeries_export_dir)]))
        elif "aeries" in sources:
            _step("extract aeries", results, lambda: aeries_cli.main(["--rate-limit", "0"]))
        if "iready" in sources:
            _step("extract i-ready", results, lambda: iready_cli.main([]))
        if "bakalari" in sources:
            _step("sync bakalari", results, lambda: bakalari_cli.main(["--requests-per-minute", "0"]))
    finally:
        stack.stop()
        shutil.rmtree(exports, ignore_errors=True)
        os.environ.pop("IREADY_SOURCE_URL", None)
    _step("dbt build", results, lambda: run_dbt(["build"], wh).returncode)
    _step("dbt docs generate", results, lambda: run_dbt(["docs", "generate"], wh).returncode)
    target = settings.dbt_target_dir()
    # the inventory against the warehouse's actual columns (catalog.json from docs generate)
    _step("pii inventory", results, lambda: pii_check.main(
        ["--manifest", str(target / "manifest.json"), "--catalog", str(target / "catalog.json")]))

    print("\n==> loaded")
    for schema, table, count in _table_counts(wh):
        print(f"  {schema + '.' + table:<48} {count:>10,}")
    print("\n==> steps")
    for name, code, seconds in results:
        print(f"  {name:<20} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:6.1f}s")
    docs = settings.dbt_target_dir() / "index.html"
    dashboard_port = settings.env("DASHBOARD_PORT", "8501")
    print(f"""
where to look:
  warehouse      {wh.describe()}   (psql: eval "$(make -s db-env)" && psql)
  marts          schema `marts` (student_summary, school_kpis, fct_attendance_daily, ...)
  audit          ops.sync_runs, ops.load_rejects; dbt test failures in schema `audit`
  roles          eval "$(python -m dlt_pipelines db env --role analyst)" (or pii_reader); reads
                 by pii_reader are logged in .local/pg/postgres.log (docs/security.md)
  docs site      {docs}  ->  `make docs-serve` then http://localhost:8080
  dashboards     `make dashboard` then http://localhost:{dashboard_port} (as analyst; docs/dashboards.md)
  quality report `make quality`""")
    return 0 if all(code == 0 for _, code, _ in results) else 1
