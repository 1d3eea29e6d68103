"""Documentation and test coverage of the dbt project, from the manifest of `dbt parse`.

Every model, source, source table and declared column has a description; every model
declares its columns and has a primary-key test; every source table has freshness on a load
timestamp; the docs site has the project's overview page; every exposure is described and
owned. `dbt parse` needs a profile but no database connection, so this is a unit test.

The checks are plain functions returning the problems they find, exercised first on a small
hand-written manifest (so they are known to catch what they claim) and then on the project.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = "school_data"

# Tests that make a key: a column with both `unique` and `not_null`, or one of these on the model.
COMPOUND_KEY_TESTS = {"unique_combination_of_columns"}


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def _own(items: dict) -> list[dict]:
    return [n for n in items.values() if n.get("package_name") == PROJECT]


def undocumented(manifest: dict) -> list[str]:
    problems = []
    for node in _own(manifest["nodes"]):
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        where = f"{node['resource_type']} {node['name']} ({node['original_file_path']})"
        if _blank(node.get("description")):
            problems.append(f"{where}: no description")
        if node["resource_type"] == "model" and not node.get("columns"):
            problems.append(f"{where}: no columns declared in its yml")
        problems += [f"{where}: column {c} has no description"
                     for c, col in node.get("columns", {}).items() if _blank(col.get("description"))]
    for src in _own(manifest["sources"]):
        where = f"source {src['source_name']}.{src['name']} ({src['original_file_path']})"
        if _blank(src.get("source_description")):
            problems.append(f"source {src['source_name']}: no description")
        if _blank(src.get("description")):
            problems.append(f"{where}: no description")
        problems += [f"{where}: column {c} has no description"
                     for c, col in src.get("columns", {}).items() if _blank(col.get("description"))]
    return sorted(set(problems))


def _has_pk_constraint(node: dict) -> bool:
    if not (node.get("contract") or {}).get("enforced"):
        return False
    if any(c.get("type") == "primary_key" for c in node.get("constraints", [])):
        return True
    return any(c.get("type") == "primary_key"
               for col in node.get("columns", {}).values() for c in col.get("constraints", []))


def models_without_primary_key_test(manifest: dict) -> list[str]:
    tests_by_model: dict[str, list[dict]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("attached_node"):
            tests_by_model.setdefault(node["attached_node"], []).append(node)
    problems = []
    for node in _own(manifest["nodes"]):
        if node["resource_type"] != "model" or _has_pk_constraint(node):
            continue
        kinds_by_column: dict[str | None, set[str]] = {}
        compound = False
        for test in tests_by_model.get(node["unique_id"], []):
            if not test["config"].get("enabled", True):
                continue
            name = (test.get("test_metadata") or {}).get("name", "")
            kinds_by_column.setdefault(test.get("column_name"), set()).add(name)
            compound |= name in COMPOUND_KEY_TESTS
        single = any({"unique", "not_null"} <= kinds for col, kinds in kinds_by_column.items() if col)
        if not (single or compound):
            problems.append(f"model {node['name']} ({node['original_file_path']}): no primary-key test "
                            "(unique + not_null on a column, unique_combination_of_columns, "
                            "or an enforced primary_key constraint)")
    return sorted(problems)


def sources_without_freshness(manifest: dict) -> list[str]:
    problems = []
    for src in _own(manifest["sources"]):
        fresh = src.get("freshness") or {}
        has_rule = any((fresh.get(k) or {}).get("count") for k in ("warn_after", "error_after"))
        has_clock = src.get("loaded_at_field") or src.get("loaded_at_query")
        if not (has_rule and has_clock):
            problems.append(f"source {src['source_name']}.{src['name']} ({src['original_file_path']}): "
                            "no freshness (warn_after/error_after with loaded_at_field)")
    return sorted(problems)


def overview_and_exposure_problems(manifest: dict) -> list[str]:
    problems = []
    overview = manifest["docs"].get(f"doc.{PROJECT}.__overview__")
    if overview is None:
        problems.append("no __overview__ docs block: the docs site opens on dbt's default page")
    else:
        text = overview["block_contents"]
        for name in sorted({s["source_name"] for s in _own(manifest["sources"])}):
            if name not in text:
                problems.append(f"overview does not mention source {name}")
        for node in _own(manifest["nodes"]):
            is_mart = node["resource_type"] == "model" and node["fqn"][1:2] == ["marts"]
            if is_mart and node["name"] not in text:
                problems.append(f"overview does not mention mart {node['name']}")
    for exp in _own(manifest["exposures"]):
        if _blank(exp.get("description")) or not (exp.get("owner") or {}).get("name"):
            problems.append(f"exposure {exp['name']}: needs a description and an owner")
        if not exp["depends_on"]["nodes"]:
            problems.append(f"exposure {exp['name']}: depends on nothing")
    return problems


# -- the checks catch what they claim --------------------------------------------------------

def _model(name, description="d", columns=None, **extra):
    return {"unique_id": f"model.{PROJECT}.{name}", "resource_type": "model", "name": name,
            "package_name": PROJECT, "original_file_path": f"models/marts/{name}.sql",
            "fqn": [PROJECT, "marts", name], "description": description,
            "columns": {c: {"description": d, "constraints": []} for c, d in (columns or {}).items()},
            "contract": {"enforced": False}, "constraints": [], **extra}


def _test(model, name, column=None):
    return {"unique_id": f"test.{PROJECT}.{name}_{model}_{column}", "resource_type": "test",
            "package_name": PROJECT, "name": name, "attached_node": f"model.{PROJECT}.{model}",
            "column_name": column, "test_metadata": {"name": name}, "config": {"enabled": True}}


def test_checks_catch_gaps_on_a_hand_written_manifest():
    nodes = [
        _model("good", columns={"id": "key"}),
        _model("compound", columns={"a": "x", "b": "y"}),
        _model("contracted", columns={"id": "key"}, contract={"enforced": True},
               constraints=[{"type": "primary_key", "columns": ["id"]}]),
        _model("only_unique", columns={"id": "key"}),
        _model("split_key", description=" ", columns={"a": "", "b": "y"}),
        _model("no_columns"),
        _test("good", "unique", "id"), _test("good", "not_null", "id"),
        _test("compound", "unique_combination_of_columns"),
        _test("only_unique", "unique", "id"),
        _test("split_key", "unique", "a"), _test("split_key", "not_null", "b"),
    ]
    source = {"unique_id": f"source.{PROJECT}.aeries.students", "package_name": PROJECT, "name": "students",
              "source_name": "aeries", "source_description": "SIS", "description": "",
              "original_file_path": "models/staging/aeries/_aeries__sources.yml",
              "columns": {"student_id": {"description": ""}},
              "freshness": {"warn_after": {"count": None}, "error_after": {"count": None}},
              "loaded_at_field": "_loaded_at"}
    manifest = {"nodes": {n["unique_id"]: n for n in nodes}, "sources": {source["unique_id"]: source},
                "docs": {f"doc.{PROJECT}.__overview__": {"block_contents": "good and compound"}},
                "exposures": {"exposure.x": {"package_name": PROJECT, "name": "board", "description": "",
                                             "owner": {}, "depends_on": {"nodes": []}}}}

    assert {m.split()[1] for m in models_without_primary_key_test(manifest)} == {
        "no_columns", "only_unique", "split_key"}
    gaps = undocumented(manifest)
    assert any("split_key" in g and "no description" in g and "column" not in g for g in gaps)
    assert any("split_key" in g and "column a" in g for g in gaps)
    assert any("no_columns" in g and "no columns declared" in g for g in gaps)
    assert any("aeries.students" in g and "column student_id" in g for g in gaps)
    assert not any(" good " in g for g in gaps)
    assert sources_without_freshness(manifest) == [
        "source aeries.students (models/staging/aeries/_aeries__sources.yml): "
        "no freshness (warn_after/error_after with loaded_at_field)"]
    other = overview_and_exposure_problems(manifest)
    assert "overview does not mention source aeries" in other
    assert "overview does not mention mart contracted" in other
    assert "exposure board: needs a description and an owner" in other


# -- the project -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_parse")
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO / "profiles"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.setdefault("PGHOST", "127.0.0.1")  # parse reads the profile but never connects
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), "parse", "--target-path", str(target), "--log-path", str(target), "--no-partial-parse"],
        cwd=REPO / "dbt_project", env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads((target / "manifest.json").read_text())


def _report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)


def test_every_model_source_and_column_is_documented(manifest):
    problems = undocumented(manifest)
    assert not problems, _report(problems)


def test_every_model_has_a_primary_key_test(manifest):
    problems = models_without_primary_key_test(manifest)
    assert not problems, _report(problems)


def test_every_source_table_has_freshness(manifest):
    problems = sources_without_freshness(manifest)
    assert not problems, _report(problems)


def test_docs_site_has_an_overview_and_described_exposures(manifest):
    problems = overview_and_exposure_problems(manifest)
    assert not problems, _report(problems)
