"""Change classification, atom -> group matching and settings, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dlt_pipelines.bakalari.changes import Stored, classify, row_hash
from dlt_pipelines.bakalari.roster import ENTITIES, group_for_atom
from dlt_pipelines.bakalari.settings import BakalariSettings
from dlt_pipelines.common.errors import ConfigError

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=3)


def klass(cid: str, abbrev: str, name: str) -> dict:
    return {"id": cid, "id_trimmed": cid.strip(), "abbrev": abbrev, "name": name}


def stored_from(rows: list[dict], deleted: set[str] = frozenset()) -> dict[str, Stored]:
    attrs = ENTITIES["classes"]
    return {r["id"]: Stored(row_hash(r, attrs), r["id"] in deleted, EARLIER,
                            {a: r[a] for a in attrs}) for r in rows}


def test_classify_counts_every_state_and_writes_only_changes():
    before = [klass("XL", "1.A", "1. A"), klass("T ", "7.A", "7. A"), klass("Q6", "2.A", "2. A")]
    now_rows = [klass("XL", "1.A", "1. A"), klass("T ", "7.A", "7. A (sportovní)"),
                klass("N1", "3.A", "3. A")]
    result = classify("classes", now_rows, stored_from(before), NOW)
    assert result.counts == {"created": 1, "updated": 1, "unchanged": 1, "deleted": 1}
    by_id = {r["id"]: r for r in result.rows}
    assert set(by_id) == {"T ", "N1", "Q6"}
    assert by_id["T "]["first_seen_at"] == EARLIER and by_id["T "]["updated_at"] == NOW
    assert by_id["N1"]["first_seen_at"] == NOW and by_id["N1"]["is_deleted"] is False
    assert by_id["Q6"]["is_deleted"] is True and by_id["Q6"]["deleted_at"] == NOW
    assert by_id["Q6"]["name"] == "2. A" and by_id["Q6"]["id_trimmed"] == "Q6"


def test_deleted_rows_are_not_deleted_again_and_come_back_as_updated():
    rows = [klass("XL", "1.A", "1. A")]
    gone = classify("classes", [], stored_from(rows, deleted={"XL"}), NOW)
    assert gone.counts["deleted"] == 0 and gone.rows == []
    back = classify("classes", rows, stored_from(rows, deleted={"XL"}), NOW)
    assert back.counts["updated"] == 1 and back.rows[0]["is_deleted"] is False


def test_hash_sees_whitespace_in_ids_and_values():
    attrs = ENTITIES["subjects"]
    a = {"id": " 7", "abbrev": "Z", "name": "Zeměpis"}
    assert row_hash(a, attrs) != row_hash({**a, "id": " 7 "}, attrs)
    assert row_hash(a, attrs) != row_hash({**a, "abbrev": "Z "}, attrs)
    assert row_hash(a, attrs) == row_hash(dict(a), attrs)


def test_atom_goes_to_the_longest_matching_group():
    groups = {"9.A": {"Id": "0C"}, "9.A Aj1": {"Id": "K3"}, "9.A Chl": {"Id": "R7"}, "1.A": {"Id": "01"}}
    assert group_for_atom("9.A Aj1 AJ", groups)["Id"] == "K3"
    assert group_for_atom("9.A ČJL", groups)["Id"] == "0C"
    assert group_for_atom("9.A Chl TV", groups)["Id"] == "R7"
    assert group_for_atom("9.AB M", groups) is None
    assert group_for_atom("Seminář", groups) is None


def test_settings_name_what_is_missing(monkeypatch):
    for name in ("BAKALARI_BASE_URL", "BAKALARI_USERNAME", "BAKALARI_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAKALARI_BASE_URL", "https://bakalari.skola.invalid/bakaweb/")
    with pytest.raises(ConfigError, match="BAKALARI_USERNAME, BAKALARI_PASSWORD missing"):
        BakalariSettings.resolve()
    monkeypatch.setenv("BAKALARI_USERNAME", "zastupce")
    monkeypatch.setenv("BAKALARI_PASSWORD", "tajne-heslo")
    settings = BakalariSettings.resolve()
    assert settings.base_url == "https://bakalari.skola.invalid/bakaweb"
    assert "tajne-heslo" not in repr(settings)
    monkeypatch.setenv("BAKALARI_BASE_URL", "bakalari.skola.invalid")
    with pytest.raises(ConfigError, match="not an http"):
        BakalariSettings.resolve()


class CannedClient:
    """The four responses the reader needs, in the documented shapes and quirks."""

    def timetable_permanent(self):
        return {
            "Classes": [{"Id": "XL", "Abbrev": "9.A", "Name": "9. A"}, {"Id": "", "Abbrev": " ()"}],
            "Groups": [{"ClassId": "XL", "Id": "0C", "Abbrev": "9.A", "Name": "9. A"},
                       {"ClassId": "XL", "Id": "0C", "Abbrev": "9.A", "Name": "9. A"},
                       {"ClassId": "XL ", "Id": " 0D", "Abbrev": "9.A Aj1", "Name": "9. A angličtina 1"}],
            "Subjects": [{"Id": "28", "Abbrev": "ČJL ", "Name": "Český jazyk"},
                         {"Id": " 6", "Abbrev": "B", "Name": "Biologie"}],
            "Teachers": [{"Id": "U  12", "Abbrev": "Ha", "Name": "Mgr. Karel Hájek"}],
            "Rooms": [{"Id": "0X", "Abbrev": "B", "Name": ""}],
        }

    def subjects(self):
        return {"Subjects": [
            {"SubjectID": "28 ", "SubjectName": "Český jazyk a literatura", "SubjectAbbrev": "ČJL ",
             "TeacherID": "U  12", "TeacherEmail": "hajek@skola.invalid"},
            {"SubjectID": "21", "SubjectName": "Seminář", "SubjectAbbrev": "Sem",
             "TeacherID": "UMZ4P", "TeacherName": "Mgr. Eva Malá", "TeacherAbbrev": "Ma",
             "TeacherEmail": ""}]}

    def marking_atoms(self):
        return {"Atoms": [{"Id": "A1 B2", "Name": "9.A ČJL"}, {"Id": "C3", "Name": "9.A Aj1 AJ"},
                          {"Id": "C4", "Name": "9.A Aj1 AJ"}, {"Id": "Z9", "Name": "Kroužek"}]}

    def marking_marks(self, atom_id):
        students = {"A1 B2": [("ABCD ", "XL"), ("EF GH", "XL")], "C3": [("ABCD ", "XL ")]}[atom_id]
        return {"Students": [{"Id": sid, "ClassId": cid, "FirstName": "Žofie", "LastName": "Nováková",
                              "RegistrationNumber": 3} for sid, cid in students]}


def test_reader_shapes_the_roster_from_the_documented_responses():
    from dlt_pipelines.bakalari.roster import read_roster

    roster = read_roster(CannedClient())
    rows = roster.rows
    assert [r["id"] for r in rows["classes"]] == ["XL"]  # the empty id is skipped
    assert [(r["id"], r["id_trimmed"], r["class_id_trimmed"]) for r in rows["groups"]] == [
        ("0C", "0C", "XL"), (" 0D", "0D", "XL")]
    # /subjects wins, the timetable adds what it lacks; "28" and "28 " are one subject
    assert {r["id"]: r["name"] for r in rows["subjects"]} == {
        "28 ": "Český jazyk a literatura", "21": "Seminář", " 6": "Biologie"}
    assert {r["id"]: r["email"] for r in rows["teachers"]} == {"U  12": "hajek@skola.invalid",
                                                              "UMZ4P": None}
    assert {r["id"] for r in rows["students"]} == {"ABCD ", "EF GH"}
    assert rows["students"][0]["registration_number"] == "3"
    assert sorted(r["id"] for r in rows["enrollments"]) == sorted([
        "ABCD |class|XL", "ABCD |group|0C", "ABCD |group| 0D", "EF GH|class|XL", "EF GH|group|0C"])
    assert roster.unmatched_atoms == 1
