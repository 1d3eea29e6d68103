"""Read the roster from Bakaláři API v3 and shape it into one list of rows per entity.

Routes (why these: docs/bakalari.md):

- ``/api/3/timetable/permanent`` of the sync account: Classes, Groups (with ClassId,
  de-duplicated by Id), Subjects, Teachers, Rooms;
- ``/api/3/subjects``: every subject the school offers (flat ``SubjectID`` shape) and the
  teachers' school e-mail;
- ``/api/3/marking/atoms`` then ``/api/3/marking/marks/{atomId}`` for one atom per group:
  the group's students, each with ClassId. These are the students and the enrolments;
- optionally the Data Connector ``/if/2/common/classes|staff|rooms`` (HTTP Basic), which
  adds what the v3 account does not see (staff who teach nothing, unused rooms, e-mails).
  API v3 values win where both have an entity; the connector only fills in a missing e-mail.

IDs are kept exactly as the source sends them (``id``) and trimmed (``id_trimmed``) for
joining, since the same entity can come back with different padding from two routes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dlt_pipelines.common.logs import event, get_logger

from .client import BakalariClient, ConnectorClient

log = get_logger("bakalari")

# entity -> attribute columns (besides id/id_trimmed and the bookkeeping columns)
ENTITIES: dict[str, tuple[str, ...]] = {
    "classes": ("abbrev", "name"),
    "groups": ("class_id", "class_id_trimmed", "abbrev", "name"),
    "subjects": ("abbrev", "name"),
    "teachers": ("abbrev", "name", "email"),
    "rooms": ("abbrev", "name"),
    "students": ("class_id", "class_id_trimmed", "first_name", "middle_name", "last_name",
                 "display_name", "registration_number"),
    "enrollments": ("student_id", "student_id_trimmed", "enrollment_type", "class_id",
                    "class_id_trimmed", "group_id", "group_id_trimmed"),
}
ORDER = tuple(ENTITIES)  # dependency order: enrolments last


def trim(value: object) -> str | None:
    return None if value is None else str(value).strip()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _row(source_id: str, **attrs) -> dict:
    return {"id": source_id, "id_trimmed": trim(source_id), **attrs}


def _dedupe(items: Iterable[dict], key: str = "Id") -> list[dict]:
    seen: dict[str, dict] = {}
    for item in items or []:
        # removed lessons and some lookups carry empty ids ("Id": ""): nothing to key on
        if item and str(item.get(key) or "").strip():
            seen.setdefault(item[key], item)
    return list(seen.values())


def group_for_atom(atom_name: str, groups_by_abbrev: dict[str, dict]) -> dict | None:
    """The group an atom teaches: the longest group abbreviation that starts the atom name
    ("9.A Aj1 AJ" -> group "9.A Aj1", not the whole class "9.A")."""
    best = None
    name = (atom_name or "").strip()
    for abbrev, group in groups_by_abbrev.items():
        if abbrev and (name == abbrev or name.startswith(abbrev + " ")) \
                and (best is None or len(abbrev) > len(best[0])):
            best = (abbrev, group)
    return best[1] if best else None


@dataclass
class Roster:
    rows: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in ENTITIES})
    unmatched_atoms: int = 0


def read_roster(client: BakalariClient, connector: ConnectorClient | None = None) -> Roster:
    roster = Roster()
    timetable = client.timetable_permanent() or {}
    offered = (client.subjects() or {}).get("Subjects") or []
    atoms = (client.marking_atoms() or {}).get("Atoms") or []

    roster.rows["classes"] = [_row(c["Id"], abbrev=_text(c.get("Abbrev")), name=_text(c.get("Name")))
                              for c in _dedupe(timetable.get("Classes"))]
    groups = _dedupe(timetable.get("Groups"))
    roster.rows["groups"] = [
        _row(g["Id"], class_id=_text(g.get("ClassId")), class_id_trimmed=trim(g.get("ClassId")),
             abbrev=_text(g.get("Abbrev")), name=_text(g.get("Name"))) for g in groups]

    subjects: dict[str, dict] = {}
    for s in offered:
        if str(s.get("SubjectID") or "").strip():
            subjects.setdefault(s["SubjectID"], _row(s["SubjectID"], abbrev=_text(s.get("SubjectAbbrev")),
                                                     name=_text(s.get("SubjectName"))))
    known = {trim(k) for k in subjects}
    for s in _dedupe(timetable.get("Subjects")):
        if trim(s["Id"]) not in known:
            subjects[s["Id"]] = _row(s["Id"], abbrev=_text(s.get("Abbrev")), name=_text(s.get("Name")))
    roster.rows["subjects"] = list(subjects.values())

    emails = {trim(s.get("TeacherID")): s.get("TeacherEmail") or None for s in offered if s.get("TeacherID")}
    teachers = {trim(t["Id"]): _row(t["Id"], abbrev=_text(t.get("Abbrev")), name=_text(t.get("Name")),
                                    email=emails.get(trim(t["Id"])))
                for t in _dedupe(timetable.get("Teachers"))}
    for s in _dedupe(offered, "TeacherID"):  # a subject's teacher with no permanent lesson
        teachers.setdefault(trim(s["TeacherID"]), _row(
            s["TeacherID"], abbrev=_text(s.get("TeacherAbbrev")), name=_text(s.get("TeacherName")),
            email=s.get("TeacherEmail") or None))
    roster.rows["teachers"] = list(teachers.values())
    roster.rows["rooms"] = [_row(r["Id"], abbrev=_text(r.get("Abbrev")), name=_text(r.get("Name")))
                            for r in _dedupe(timetable.get("Rooms"))]

    # one atom per group is enough: every atom of a group lists the same students
    by_abbrev = {(g.get("Abbrev") or "").strip(): g for g in groups}
    atom_for_group: dict[str, str] = {}
    for atom in atoms:
        if atom.get("Disabled"):
            continue
        group = group_for_atom(atom.get("Name", ""), by_abbrev)
        if group is None:
            roster.unmatched_atoms += 1
            continue
        atom_for_group.setdefault(group["Id"], atom["Id"])
    if roster.unmatched_atoms:
        event(log, "atoms_without_group", atoms=roster.unmatched_atoms)

    students: dict[str, dict] = {}
    enrollments: dict[str, dict] = {}
    for group in groups:
        atom_id = atom_for_group.get(group["Id"])
        if atom_id is None:
            continue
        payload = client.marking_marks(atom_id) or {}
        for st in payload.get("Students") or []:
            sid, cid = st.get("Id"), st.get("ClassId")
            if not str(sid or "").strip():
                continue
            students.setdefault(sid, _row(
                sid, class_id=_text(cid), class_id_trimmed=trim(cid), first_name=_text(st.get("FirstName")),
                middle_name=_text(st.get("MiddleName")), last_name=_text(st.get("LastName")),
                display_name=_text(st.get("DisplayName")),
                registration_number=_text(st.get("RegistrationNumber"))))
            _enrol(enrollments, sid, "group", group["Id"], group.get("ClassId"), group["Id"])
    for student in students.values():  # one class per student, as first listed
        if student["class_id_trimmed"]:
            _enrol(enrollments, student["id"], "class", student["class_id"], student["class_id"], None)
    roster.rows["students"] = list(students.values())
    roster.rows["enrollments"] = list(enrollments.values())
    if connector is not None:
        add_connector(roster, connector)
    return roster


def add_connector(roster: Roster, connector: ConnectorClient) -> None:
    """Add classes, staff and rooms that only the Data Connector lists (not the deleted ones)."""
    def live(payload: dict, key: str) -> list[dict]:
        return [x for x in _dedupe(payload.get(key), "ID") if not x.get("Deleted")]

    for entity, what, key in (("classes", "classes", "Classes"), ("rooms", "rooms", "Rooms")):
        have = {r["id_trimmed"] for r in roster.rows[entity]}
        for item in live(connector.common(what), key):
            if trim(item["ID"]) not in have:
                roster.rows[entity].append(_row(item["ID"], abbrev=_text(item.get("Abbrev")),
                                                name=_text(item.get("Name"))))
    teachers = {r["id_trimmed"]: r for r in roster.rows["teachers"]}
    for person in live(connector.common("staff"), "Staff"):
        found = teachers.get(trim(person["ID"]))
        if found is None:
            name = " ".join(p for p in (person.get("Title"), person.get("FirstName"),
                                        person.get("LastName")) if p)
            roster.rows["teachers"].append(_row(person["ID"], abbrev=None, name=name or None,
                                                email=person.get("Email") or None))
        elif not found.get("email") and person.get("Email"):
            found["email"] = person["Email"]


def _enrol(out: dict, student_id: str, kind: str, target: str, class_id, group_id) -> None:
    # a synthetic key built from the exact source ids: student | kind | class or group id;
    # de-duplicated on the trimmed ids, since routes may pad the same id differently
    trimmed = f"{trim(student_id)}|{kind}|{trim(target)}"
    out.setdefault(trimmed, {
        "id": f"{student_id}|{kind}|{target}", "id_trimmed": trimmed,
        "student_id": student_id, "student_id_trimmed": trim(student_id), "enrollment_type": kind,
        "class_id": _text(class_id), "class_id_trimmed": trim(class_id),
        "group_id": _text(group_id), "group_id_trimmed": trim(group_id)})
