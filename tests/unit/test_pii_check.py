"""The PII inventory check (`python -m dlt_pipelines pii-check`): it fails on a hand-written
manifest with each kind of gap, and the real project (parsed by dbt) passes."""

from __future__ import annotations

import json

import pytest

from dlt_pipelines import pii_check
from dlt_pipelines.pii_check import check, looks_like_pii

P = pii_check.PROJECT


def col(name: str, **meta) -> dict:
    return {"name": name, "description": "d", "meta": {}, "config": {"meta": meta, "tags": []}}


def model(name: str, schema: str, columns: list[dict], tags=(), resource_type="model") -> dict:
    return {"unique_id": f"{resource_type}.{P}.{name}", "resource_type": resource_type, "name": name,
            "package_name": P, "schema": schema, "original_file_path": f"models/{name}.sql",
            "tags": list(tags), "config": {"tags": list(tags)}, "columns": {c["name"]: c for c in columns}}


def source(name: str, columns: list[dict], tags=()) -> dict:
    return {"unique_id": f"source.{P}.raw.{name}", "resource_type": "source", "name": name,
            "source_name": "raw", "package_name": P, "schema": "raw_x",
            "original_file_path": "models/_sources.yml",
            "tags": list(tags), "config": {"tags": list(tags)}, "columns": {c["name"]: c for c in columns}}


def manifest(*nodes: dict) -> dict:
    return {"nodes": {n["unique_id"]: n for n in nodes if n["resource_type"] != "source"},
            "sources": {n["unique_id"]: n for n in nodes if n["resource_type"] == "source"}}


PII = {"pii": True, "pii_category": "name"}
CLEAN = manifest(
    model("stg_students", "staging", [col("student_id"), col("first_name", **PII)], tags=["pii"]),
    model("restricted_people", "restricted", [col("last_name", **PII)], tags=["pii"]),
    model("dim_people", "marts", [col("person_id"), col("has_email", pii=False), col("school_name")]),
    model("snap_students", "snapshots", [col("display_name", **PII)], tags=["pii"], resource_type="snapshot"),
    source("students", [col("birthdate", pii=True, pii_category="birth_date")], tags=["pii"]),
)


@pytest.mark.parametrize("name, category", [
    ("first_name", "name"), ("LastName", "name"), ("parent_guardian_name", "name"), ("name", "name"),
    ("teacher_name", "name"), ("first_name_alias", "name"), ("birthdate", "birth_date"),
    ("birth_date", "birth_date"), ("dob", "birth_date"), ("parent_email_address", "contact"),
    ("email", "contact"), ("home_phone", "contact"), ("student_mobile_phone", "contact"),
    ("guardian", "contact"), ("residence_address_zip_code", "address"), ("mailing_address_city", "address"),
    ("zip", "address"), ("state_student_id", "state_id"), ("ssn", "state_id"),
    ("registration_number", "state_id"),
])
def test_names_that_look_personal(name, category):
    assert looks_like_pii(name) == category


@pytest.mark.parametrize("name", ["student_id", "school_name", "class_name", "subject_name", "grade_level",
                                  "parent_ed_level_code", "include_in_parent_notifications", "loaded_at",
                                  "overall_scale_score", "class_id", "rename_count"])
def test_names_that_do_not(name):
    assert looks_like_pii(name) is None


def test_a_clean_inventory_passes():
    result = check(CLEAN)
    assert result.problems == []
    assert {(n, c) for n, c, _ in result.pii_columns} == {
        ("model stg_students", "first_name"), ("model restricted_people", "last_name"),
        ("snapshot snap_students", "display_name"), ("source raw.students", "birthdate")}


def test_a_mart_exposing_a_tagged_column_fails():
    bad = manifest(model("student_summary", "marts", [col("student_id"), col("first_name", **PII)],
                         tags=["pii"]))
    problems = check(bad).problems
    assert len(problems) == 1
    assert "student_summary" in problems[0] and "exposes PII column(s) first_name" in problems[0]
    # a seed or a snapshot outside the locked schemas is exposed too
    seed = manifest(model("people_seed", "reference", [col("email", pii=True, pii_category="contact")],
                          tags=["pii"], resource_type="seed"))
    assert any("exposes PII" in p for p in check(seed).problems)


def test_an_untagged_column_named_like_pii_fails_wherever_it_is():
    for schema in ("staging", "marts"):
        bad = manifest(model("stg_x", schema, [col("student_id"), col("parent_email_address")]))
        problems = check(bad).problems
        assert problems == [f"model stg_x (schema {schema}, models/stg_x.sql): column parent_email_address "
                            "looks like PII (contact) but has no meta pii: tag it pii: true, "
                            "pii_category: contact (or pii: false)"]
    src = manifest(source("students", [col("birthdate")], tags=["pii"]))
    assert "column birthdate looks like PII (birth_date)" in check(src).problems[0]


def test_category_and_node_tag_are_required():
    bad = manifest(model("stg_y", "staging", [col("first_name", pii=True, pii_category="surname")]))
    problems = check(bad).problems
    assert any("pii_category 'surname'" in p for p in problems)
    assert any("lacks the tag 'pii'" in p for p in problems)


def test_with_a_catalog_undeclared_warehouse_columns_fail():
    catalog = {"nodes": {f"model.{P}.dim_people": {"columns": {"PERSON_ID": {}, "has_email": {},
                                                              "guardian_phone": {}}}},
               "sources": {f"source.{P}.raw.students": {"columns": {"birthdate": {}, "home_phone": {}}}}}
    problems = check(CLEAN, catalog).problems
    assert len(problems) == 2
    assert any("dim_people" in p and "warehouse column guardian_phone" in p for p in problems)
    assert any("raw.students" in p and "warehouse column home_phone" in p for p in problems)


def test_the_command_exits_1_on_a_gap_and_0_when_clean(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(manifest(model("fct_x", "marts", [col("last_name", **PII)], tags=["pii"]))))
    assert pii_check.main(["--manifest", str(bad)]) == 1
    assert "exposes PII column(s) last_name" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(CLEAN))
    assert pii_check.main(["--manifest", str(good)]) == 0
    assert "PII inventory ok: 4 PII columns in 4 nodes" in capsys.readouterr().out


def test_the_project_passes_and_covers_the_known_misses():
    result = check(pii_check.parse_manifest())
    assert result.problems == [], "\n".join(result.problems)
    got = {(n, c): cat for n, c, cat in result.pii_columns}
    for key, category in {
        ("model stg_aeries__students", "first_name"): "name",
        ("model stg_aeries__students", "birth_date"): "birth_date",
        ("model stg_aeries__students", "state_student_id"): "state_id",
        ("snapshot snap_bakalari_students", "last_name"): "name",
        ("source aeries.students", "parent_email_address"): "contact",
        ("source aeries.students", "residence_address"): "address",
        ("source raw_bakalari.teachers", "email"): "contact",
        ("source raw_iready.diagnostic_results", "last_name"): "name",
        ("model restricted_people", "birth_date"): "birth_date",
    }.items():
        assert got.get(key) == category, key
