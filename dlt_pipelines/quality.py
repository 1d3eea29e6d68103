"""``python -m dlt_pipelines quality`` (``make quality``): a data-quality report an analyst can act on.

It reads what the last dbt runs left behind and what the pipelines recorded:

* ``dbt_project/target/run_results.json`` when the last dbt command ran tests (``build`` or
  ``test``): status and failing-row count of every test, runtime errors, skipped nodes;
* the ``audit`` schema, where every test stores its failing rows (``store_failures``), for
  the tests that the last dbt command did not run (``make docs`` after ``make transform``
  replaces run_results.json, so the stored failures are the durable record);
* ``target/manifest.json`` for what each test checks, its severity and where it is defined;
* ``target/sources.json`` (``make freshness``) for source freshness;
* ``ops.sync_runs`` and ``ops.load_rejects`` for the rejects of the last loads per source.

Only counts, test names, table names, school-level identifiers and reject reasons are
printed, never rows: the report points at the audit table to query instead.

Exit status (see docs/data-quality.md): 0 when no error-severity test failed and no model or
test errored; 1 when one did (or, with ``--strict``, when any warning was raised); 2 when
there is nothing to report on (no dbt manifest, or neither run results nor a reachable
warehouse). An unreachable warehouse with run results still gives the dbt part of the report.
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from psycopg2 import sql

from dlt_pipelines.common import settings, warehouse
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import redact

TEST_COMMANDS = {"build", "test"}
ORDER = {"error": 0, "fail": 1, "warn": 2, "skipped": 3, "pass": 4}
_THRESHOLD = re.compile(r"^\s*(!=|<>|>=|<=|==|=|>|<)\s*(\d+)\s*$")
# A reject reason may quote the refused value ("invalid_date: '13/45/2024' is not a date"):
# the report shows the reason code ("invalid_date"), or the reason with quoted values masked.
REASON_SQL = (
    "case when r.reason ~ '^[a-z_]+: ' then split_part(r.reason, ':', 1)"
    " else regexp_replace(r.reason, '''[^'']*''|\"[^\"]*\"', '''?''', 'g') end"
)
_OPS = {"!=": operator.ne, "<>": operator.ne, ">=": operator.ge, "<=": operator.le,
        "==": operator.eq, "=": operator.eq, ">": operator.gt, "<": operator.lt}


@dataclass
class TestOutcome:
    unique_id: str
    name: str
    status: str                 # error | fail | warn | pass | skipped
    rows: int | None            # failing rows, when known
    severity: str               # error | warn (as configured)
    origin: str                 # "last run" or "audit table"
    relation: str | None        # the audit table holding the failing rows
    checks: str                 # "unique on stg_students.student_id"
    file: str
    description: str = ""
    message: str = ""


# -- artifacts ----------------------------------------------------------------------------

def target_dir(path: str | None = None) -> Path:
    if path:
        return Path(path)
    return settings.dbt_target_dir()


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OperatorError(f"{path} is not readable dbt output ({type(exc).__name__}).",
                            "rerun `make transform`.") from None


def _threshold_hit(expr: str, rows: int) -> bool:
    match = _THRESHOLD.match(str(expr or "!= 0"))
    if not match:
        return rows != 0
    return _OPS[match.group(1)](rows, int(match.group(2)))


def _checks(node: dict, manifest: dict) -> str:
    """What the test checks, in words: ``unique on student_summary.student_id``."""
    meta = node.get("test_metadata") or {}
    kind = meta.get("name") or "singular test"
    if meta.get("namespace"):
        kind = f"{meta['namespace']}.{kind}"
    parent = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
    target = ""
    if parent:
        pnode = manifest.get("nodes", {}).get(parent) or manifest.get("sources", {}).get(parent) or {}
        target = pnode.get("name", parent.split(".")[-1])
        if parent.startswith("source.") and pnode:
            target = f"{pnode['source_name']}.{target}"
    column = node.get("column_name")
    if target and column:
        target = f"{target}.{column}"
    return f"{kind} on {target}" if target else kind


def _relation(node: dict) -> str | None:
    if not (node.get("config") or {}).get("store_failures"):
        return None
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def collect_tests(manifest: dict, run_results: dict | None,
                  audit_counts: dict[str, int] | None) -> list[TestOutcome]:
    """One outcome per test in the manifest: from the last run when it ran tests, otherwise
    from its audit table. Tests with neither are left out (never run)."""
    ran: dict[str, dict] = {}
    if run_results and run_results.get("args", {}).get("which") in TEST_COMMANDS:
        ran = {r["unique_id"]: r for r in run_results.get("results", [])}
    outcomes = []
    for uid, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "test":
            continue
        config = node.get("config") or {}
        severity = str(config.get("severity", "error")).lower()
        common = dict(
            unique_id=uid, name=node["name"], severity=severity, relation=_relation(node),
            checks=_checks(node, manifest), file=node.get("original_file_path", ""),
            description=(node.get("description") or "").strip(),
        )
        if uid in ran:
            res = ran[uid]
            status = res["status"]
            message = ""
            if status == "error":
                # first line only: "Database Error in test x (path)"; data never printed
                message = redact(str(res.get("message") or "").strip().splitlines()[0])[:200] \
                    if res.get("message") else ""
            outcomes.append(TestOutcome(status=status, rows=res.get("failures"), origin="last run",
                                        message=message, **common))
        elif audit_counts is not None and common["relation"] in audit_counts:
            rows = audit_counts[common["relation"]]
            if rows and _threshold_hit(config.get("error_if", "!= 0"), rows) and severity == "error":
                status = "fail"
            elif rows and _threshold_hit(config.get("warn_if", "!= 0"), rows):
                status = "warn"
            else:
                status = "pass"
            outcomes.append(TestOutcome(status=status, rows=rows, origin="audit table", **common))
    outcomes.sort(key=lambda t: (ORDER.get(t.status, 9), -(t.rows or 0), t.name))
    return outcomes


# -- warehouse ----------------------------------------------------------------------------

def audit_table_counts(cur, manifest: dict) -> dict[str, int]:
    """Row count of every existing failure table the manifest's tests store into."""
    wanted = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "test" and _relation(node):
            wanted[(node["schema"], node.get("alias") or node["name"])] = _relation(node)
    if not wanted:
        return {}
    schemas = sorted({schema for schema, _ in wanted})
    cur.execute(
        "select table_schema, table_name from information_schema.tables where table_schema = any(%s)",
        (schemas,),
    )
    existing = [row for row in cur.fetchall() if tuple(row) in wanted]
    counts = {}
    for schema, table in existing:
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        cur.execute(query)
        counts[wanted[(schema, table)]] = cur.fetchone()[0]
    return counts


def recent_runs(cur, runs: int) -> tuple[list[tuple], list[tuple]]:
    """The last ``runs`` runs per source and their rejects grouped by resource/column/reason."""
    cur.execute("select to_regclass('ops.sync_runs'), to_regclass('ops.load_rejects')")
    has_runs, has_rejects = cur.fetchone()
    if not has_runs:
        return [], []
    ranked = """
        with ranked as (
            select run_id, source, started_at, status, rejects,
                   row_number() over (partition by source order by started_at desc) as rn
            from ops.sync_runs
        )"""
    cur.execute(ranked + """
        select source, run_id, started_at, status, rejects from ranked
        where rn <= %s order by source, started_at desc""", (runs,))
    run_rows = cur.fetchall()
    reject_rows: list[tuple] = []
    if has_rejects:
        cur.execute(ranked + """
            select k.source, r.resource, coalesce(r.column_name, ''), """ + REASON_SQL + """ as reason,
                   count(*) as n, count(distinct r.run_id) as runs
            from ops.load_rejects as r
            inner join ranked as k on r.run_id = k.run_id
            where k.rn <= %s
            group by 1, 2, 3, 4
            order by 1, n desc, 2, 3, 4""", (runs,))
        reject_rows = cur.fetchall()
    return run_rows, reject_rows


# -- report -------------------------------------------------------------------------------

def _rows(n: int | None) -> str:
    if n is None:
        return "rows: n/a"
    return f"{n} row" if n == 1 else f"{n} rows"


def _test_block(t: TestOutcome) -> list[str]:
    label = {"fail": "FAIL ", "error": "ERROR", "warn": "WARN "}.get(t.status, t.status.upper())
    lines = [f"  {label} {t.name}  ({_rows(t.rows) if t.status != 'error' else 'did not run'})",
             f"        checks: {t.checks}   [severity {t.severity}; from {t.origin}]",
             f"        defined in: dbt_project/{t.file}"]
    if t.description:
        lines.append(f"        why it matters: {' '.join(t.description.split())[:240]}")
    if t.message:
        lines.append(f"        error: {t.message}  (full text in dbt_project/logs/dbt.log)")
    elif t.relation:
        lines.append(f"        look: select * from {t.relation};")
    return lines


def render(manifest: dict, run_results: dict | None, tests: list[TestOutcome],
           freshness: dict | None, runs: list[tuple] | None, rejects: list[tuple] | None,
           runs_per_source: int, db_note: str | None = None, max_reasons: int = 10) -> list[str]:
    out = ["Data-quality report", "==================="]
    which = (run_results or {}).get("args", {}).get("which")
    if run_results:
        when = run_results.get("metadata", {}).get("generated_at", "?")[:19].replace("T", " ")
        command = {"generate": "docs generate", "freshness": "source freshness"}.get(which, which)
        out.append(f"last dbt command: `dbt {command}` at {when} UTC")
        if which not in TEST_COMMANDS:
            out.append("  it ran no tests: test results below come from the audit schema "
                       "(failures stored by the last run of each test)")
    else:
        out.append("no run_results.json: test results below come from the audit schema")
    counts = Counter(t.status for t in tests)
    out.append("tests: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "warn", "fail", "error",
                                                                        "skipped")))
    if db_note:
        out.append(f"note: {db_note}")

    errors = [t for t in tests if t.status in ("fail", "error")]
    warns = [t for t in tests if t.status == "warn"]
    out += ["", f"ERRORS: tests that must hold ({len(errors)})"]
    out += [line for t in errors for line in _test_block(t)] or ["  none"]
    out += ["", f"WARNINGS: quality signals to review ({len(warns)})"]
    out += [line for t in warns for line in _test_block(t)] or ["  none"]

    if run_results and which in TEST_COMMANDS:
        broken = [r for r in run_results.get("results", [])
                  if not r["unique_id"].startswith("test.") and r["status"] in ("error", "skipped")]
        if broken:
            out += ["", "MODELS, SEEDS, SNAPSHOTS that did not build"]
            for r in sorted(broken, key=lambda r: (r["status"], r["unique_id"])):
                kind, name = r["unique_id"].split(".")[0], r["unique_id"].split(".")[-1]
                # only the kind of error ("Database Error"): later lines may quote data values
                kind_of = (str(r.get("message") or "").strip().splitlines() or ["error"])[0]
                kind_of = kind_of.split(" in ")[0][:60] or "error"
                why = f"{kind_of}, see dbt_project/logs/dbt.log" if r["status"] == "error" \
                    else "skipped: an upstream node or test failed"
                out.append(f"  {kind:<9} {name}: {why}")

    out += ["", "SOURCE FRESHNESS"]
    if not freshness:
        out.append("  not checked yet: run `make freshness`")
    else:
        when = freshness.get("metadata", {}).get("generated_at", "?")[:19].replace("T", " ")
        results = freshness.get("results", [])
        stale = [r for r in results if r.get("status") != "pass"]
        fresh = len(results) - len(stale)
        out.append(f"  checked at {when} UTC: {fresh} of {len(results)} source tables fresh")
        for r in sorted(stale, key=lambda r: r["unique_id"]):
            name = ".".join(r["unique_id"].split(".")[-2:])
            age = r.get("max_loaded_at_time_ago_in_s")
            age_txt = f"last load {age / 3600:.1f} h ago" if isinstance(age, int | float) else "no load time"
            out.append(f"  {r.get('status', '?').upper():<7} {name}: {age_txt}")

    out += ["", f"LOAD REJECTS: last {runs_per_source} runs per source (ops.sync_runs, ops.load_rejects)"]
    if runs is None:
        out.append("  not available (warehouse not reachable)")
    elif not runs:
        out.append("  no pipeline runs recorded yet")
    else:
        by_source: dict[str, list[tuple]] = {}
        for row in runs:
            by_source.setdefault(row[0], []).append(row)
        reasons: dict[str, list[tuple]] = {}
        for row in rejects or []:
            reasons.setdefault(row[0], []).append(row)
        for source, rows in by_source.items():
            total = sum(r[4] or 0 for r in rows)
            out.append(f"  {source}: {total} rejects in the last {len(rows)} run(s)")
            for _, run_id, started, status, n in rows:
                when = started.astimezone(UTC) if started.tzinfo else started
                out.append(f"    {when:%Y-%m-%d %H:%M} UTC  {status:<9} rejects {n:<6} run {run_id}")
            src_reasons = reasons.get(source, [])
            for _, resource, column, reason, n, nruns in src_reasons[:max_reasons]:
                col = f".{column}" if column else ""
                text = " ".join(redact(str(reason)).split())[:100]
                out.append(f"      {n:>6} x {resource}{col}: {text}  ({nruns} run(s))")
            if len(src_reasons) > max_reasons:
                out.append(f"      ... {len(src_reasons) - max_reasons} more reasons")
            if total:
                out.append(f"    look: select resource, file_name, line_number, column_name, reason"
                           f" from ops.load_rejects where run_id = '{rows[0][1]}';")
                out.append(f"    rows (student data, needs the rejects key): python -m dlt_pipelines"
                           f" rejects decrypt --run-id {rows[0][1]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines quality",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--target-path", help="dbt target folder (default dbt_project/target)")
    parser.add_argument("--runs", type=int, default=3, help="pipeline runs per source to show (default 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    args = parser.parse_args(argv or [])

    target = target_dir(args.target_path)
    manifest = _load(target / "manifest.json")
    if manifest is None:
        raise OperatorError(f"No dbt manifest in {target}: dbt has not run here yet.",
                            "run `make transform` (dbt build), then `make quality`.")
    run_results = _load(target / "run_results.json")
    freshness = _load(target / "sources.json")

    audit_counts: dict[str, int] | None = None
    runs = rejects = None
    db_note = None
    try:
        with warehouse.cursor(warehouse.resolve()) as cur:
            audit_counts = audit_table_counts(cur, manifest)
            runs, rejects = recent_runs(cur, max(1, args.runs))
    except OperatorError as exc:
        db_note = f"warehouse not reachable, audit tables and rejects left out ({exc.message})"

    tests = collect_tests(manifest, run_results, audit_counts)
    for line in render(manifest, run_results, tests, freshness, runs, rejects, max(1, args.runs), db_note):
        print(line)

    hard = [t for t in tests if t.status in ("fail", "error")]
    if run_results and run_results.get("args", {}).get("which") in TEST_COMMANDS:
        hard += [r for r in run_results.get("results", [])
                 if not r["unique_id"].startswith("test.") and r["status"] == "error"]
    if hard or (args.strict and any(t.status == "warn" for t in tests)):
        print(f"\nresult: {len(hard)} error(s) to fix" if hard else "\nresult: warnings (--strict)")
        return 1
    if not run_results and audit_counts is None:
        print("\nresult: nothing to assess (no dbt results and no warehouse)", file=sys.stderr)
        return 2
    print("\nresult: no error-severity failures")
    return 0
