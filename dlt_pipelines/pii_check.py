"""``python -m dlt_pipelines pii-check``: the PII inventory of the dbt project, checked.

Convention (docs/security.md, "PII inventory and data at rest"):

* every source, model, seed or snapshot column holding personal data carries
  ``config: {meta: {pii: true, pii_category: <category>}}`` with a category from
  :data:`CATEGORIES`; a column whose name looks personal but is not (``has_email``,
  ``school_name`` of a school) says so with ``meta: {pii: false}``;
* every node (source table, model, snapshot, seed) with a PII column carries the tag ``pii``,
  so ``dbt ls --select tag:pii`` lists everything that holds personal data.

The check fails (exit 1) when

1. a node outside the locked schemas (:data:`PII_SCHEMAS`: raw sources, staging,
   intermediate, snapshots, restricted) exposes a PII column: marts and everything else an
   analyst can read hold no personal fields;
2. a column whose name matches :data:`NAME_PATTERNS` carries no ``pii`` decision;
3. a PII column has no valid ``pii_category``, or its node lacks the ``pii`` tag;
4. with ``--catalog`` (``target/catalog.json`` from ``dbt docs generate``): a column that
   exists in the warehouse, is named like PII and is not declared in the yml.

Without ``--manifest`` it runs ``dbt parse`` into a temporary folder (no database needed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.settings import dbt_project_dir, profiles_dir

PROJECT = "school_data"
TAG = "pii"
NODE_TYPES = ("model", "seed", "snapshot")
CATEGORIES = ("name", "birth_date", "address", "contact", "state_id")

# Schemas only pipeline roles and pii_reader may read: PII is allowed there (raw sources are
# always locked). Every other schema -- marts, reference, ops, audit, ... -- is analyst-readable.
PII_SCHEMAS = frozenset({"restricted", "staging", "intermediate", "snapshots"})

# Column names that look personal, by category: the one list the check and the docs use.
# A match must carry an explicit decision (pii: true with a category, or pii: false).
NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "name": (
        r"^name$",
        r"(first|last|middle|given|family|sur|full|display|preferred|legal|nick)_?name",
        r"(student|teacher|staff|parent|guardian|principal|person|contact)_name",
        r"name_alias",
    ),
    "birth_date": (r"birth", r"(^|_)dob($|_)", r"rodne_cislo"),
    "contact": (
        r"e_?mail",
        r"phone",
        r"mobile",
        r"(^|_)fax($|_)",
        r"guardian",
        r"(^|_)parent_(name|email|phone|address|contact|first|last)",
    ),
    "address": (r"address", r"(^|_)(street|city|zip|zip_code|postal_code|postcode)($|_)"),
    "state_id": (
        r"state_student_id",
        r"(^|_)ssid($|_)",
        r"(^|_)ssn($|_)",
        r"social_security",
        r"registration_number",
        r"national_id",
    ),
}
_COMPILED = [(category, re.compile(p)) for category, ps in NAME_PATTERNS.items() for p in ps]


def looks_like_pii(column: str) -> str | None:
    """The category a column name suggests, or None."""
    name = column.lower()
    for category, pattern in _COMPILED:
        if pattern.search(name):
            return category
    return None


@dataclass
class Inventory:
    problems: list[str]
    pii_columns: list[tuple[str, str, str]]  # (node, column, category)


def _meta(column: dict) -> dict:
    """Column meta wherever dbt put it (``config.meta`` since 1.10, top-level ``meta`` before)."""
    merged = dict(column.get("meta") or {})
    merged.update((column.get("config") or {}).get("meta") or {})
    return merged


def _tags(node: dict) -> set[str]:
    return set(node.get("tags") or []) | set((node.get("config") or {}).get("tags") or [])


def _nodes(manifest: dict) -> list[tuple[str, dict, bool]]:
    """(label, node, locked) for every source table, model, seed and snapshot of the project."""
    out = []
    for node in manifest.get("nodes", {}).values():
        if node.get("package_name") != PROJECT or node.get("resource_type") not in NODE_TYPES:
            continue
        schema = (node.get("schema") or "").lower()
        label = f"{node['resource_type']} {node['name']} (schema {schema}, {node.get('original_file_path')})"
        out.append((label, node, schema in PII_SCHEMAS))
    for src in manifest.get("sources", {}).values():
        if src.get("package_name") != PROJECT:
            continue
        label = f"source {src['source_name']}.{src['name']} ({src.get('original_file_path')})"
        out.append((label, src, True))
    return sorted(out, key=lambda t: t[0])


def check(manifest: dict, catalog: dict | None = None) -> Inventory:
    problems: list[str] = []
    inventory: list[tuple[str, str, str]] = []
    for label, node, locked in _nodes(manifest):
        columns = node.get("columns") or {}
        pii_here = []
        for name, col in columns.items():
            meta = _meta(col)
            suggested = looks_like_pii(name)
            if "pii" not in meta:
                if suggested:
                    problems.append(f"{label}: column {name} looks like PII ({suggested}) but has no "
                                    f"meta pii: tag it pii: true, pii_category: {suggested} (or pii: false)")
                continue
            if meta["pii"] is not True:
                continue
            category = meta.get("pii_category")
            if category not in CATEGORIES:
                problems.append(f"{label}: column {name} has pii: true but pii_category {category!r}; "
                                f"use one of {', '.join(CATEGORIES)}")
            pii_here.append(name)
            inventory.append((label.split(" (")[0], name, str(category)))
        if pii_here and not locked:
            problems.append(f"{label}: exposes PII column(s) {', '.join(sorted(pii_here))} outside the "
                            f"locked schemas ({', '.join(sorted(PII_SCHEMAS))}); move them to "
                            "restricted_people or drop them")
        if pii_here and TAG not in _tags(node):
            problems.append(f"{label}: holds PII column(s) but lacks the tag '{TAG}'")
        if catalog is not None:
            problems += _undeclared(label, node, columns, catalog)
    return Inventory(sorted(set(problems)), inventory)


def _undeclared(label: str, node: dict, declared: dict, catalog: dict) -> list[str]:
    entry = (catalog.get("sources") if node.get("resource_type") == "source" else catalog.get("nodes")) or {}
    actual = (entry.get(node["unique_id"]) or {}).get("columns") or {}
    known = {c.lower() for c in declared}
    return [f"{label}: warehouse column {name} looks like PII ({category}) but is not declared in the "
            f"yml: declare it with meta pii"
            for name in actual if name.lower() not in known and (category := looks_like_pii(name))]


def parse_manifest() -> dict:
    """``dbt parse`` the project into a temporary target folder; needs no database."""
    with tempfile.TemporaryDirectory(prefix="pii-check-") as target:
        env = {**os.environ, "DBT_PROFILES_DIR": str(profiles_dir()),
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        env.setdefault("PGHOST", "127.0.0.1")  # parse reads the profile but never connects
        dbt = Path(sys.executable).parent / "dbt"
        proc = subprocess.run(
            [str(dbt), "parse", "--target-path", target, "--log-path", target, "--no-partial-parse"],
            cwd=dbt_project_dir(), env=env, capture_output=True, text=True, timeout=600,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise ConfigError("dbt parse failed, so the PII inventory cannot be checked: "
                              + " | ".join(tail)[:600],
                              "fix the dbt project (`make transform` shows the error).")
        return json.loads((Path(target) / "manifest.json").read_text())


def _load(path: str, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"The {what} {path} does not exist.",
                          "run `make docs` first, or leave the option out.") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines pii-check",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", help="a dbt manifest.json (default: `dbt parse` now)")
    parser.add_argument("--catalog", help="a dbt catalog.json: also check the warehouse's actual columns")
    parser.add_argument("--list", action="store_true", help="print the inventory (node, column, category)")
    args = parser.parse_args(argv)
    manifest = _load(args.manifest, "manifest") if args.manifest else parse_manifest()
    catalog = _load(args.catalog, "catalog") if args.catalog else None
    result = check(manifest, catalog)
    if args.list:
        for node, column, category in sorted(result.pii_columns):
            print(f"{node:<60} {column:<32} {category}")
    nodes = len({n for n, _, _ in result.pii_columns})
    if result.problems:
        print(f"PII inventory: {len(result.problems)} problem(s)", file=sys.stderr)
        for problem in result.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"PII inventory ok: {len(result.pii_columns)} PII columns in {nodes} nodes, all in locked schemas"
          + (", every warehouse column declared" if catalog is not None else ""))
    return 0
