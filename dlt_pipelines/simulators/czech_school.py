"""A deterministic synthetic Czech primary school (základní škola), grades 1-9.

Built from a seed: classes ("1.A" ... "9.B"), groups (the whole class plus split groups for
English and, from grade 6, boys/girls PE), subjects with Czech names, teachers, students with
Czech names and diacritics, rooms, teaching assignments (group x subject x teacher) and the
student -> group memberships. Nobody in it is real.

The identifiers copy the quirks of real Bakaláři data (reference §1): opaque short codes
("UMZ4P", "XL"), numbers padded with spaces (" 6"), trailing spaces (" 7 ", "ČJL "),
inner runs of spaces ("U  12"). Tests change the school between runs with
:meth:`rename_class`, :meth:`remove_student` and :meth:`add_student`.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_ALNUM = string.ascii_uppercase + string.digits

MALE_FIRST = ["Jan", "Jakub", "Tomáš", "Matěj", "Vojtěch", "Lukáš", "Ondřej", "Adam", "Šimon",
              "Filip", "Dominik", "Štěpán", "Jiří", "František", "Vít", "Kryštof", "Radim"]
FEMALE_FIRST = ["Eliška", "Tereza", "Anna", "Adéla", "Natálie", "Karolína", "Kristýna",
                "Barbora", "Klára", "Veronika", "Žofie", "Lucie", "Markéta", "Zuzana", "Kateřina"]
# (male form, female form)
SURNAMES = [("Novák", "Nováková"), ("Dvořák", "Dvořáková"), ("Černý", "Černá"),
            ("Procházka", "Procházková"), ("Kučera", "Kučerová"), ("Veselý", "Veselá"),
            ("Horák", "Horáková"), ("Němec", "Němcová"), ("Pokorný", "Pokorná"),
            ("Pospíšil", "Pospíšilová"), ("Hájek", "Hájková"), ("Jelínek", "Jelínková"),
            ("Král", "Králová"), ("Růžička", "Růžičková"), ("Beneš", "Benešová"),
            ("Fiala", "Fialová"), ("Sedláček", "Sedláčková"), ("Doležal", "Doležalová"),
            ("Zeman", "Zemanová"), ("Kolář", "Kolářová"), ("Navrátil", "Navrátilová"),
            ("Čermák", "Čermáková"), ("Vaněk", "Vaňková"), ("Kříž", "Křížová"),
            ("Bartoš", "Bartošová"), ("Vlček", "Vlčková"), ("Šťastný", "Šťastná")]
DEGREES = ["Mgr.", "Mgr.", "Mgr.", "Bc.", "PaedDr.", "Ing."]

# (id, abbrev, name) -- ids and abbrevs keep the whitespace quirks on purpose.
SUBJECTS = [
    ("28", "ČJL ", "Český jazyk a literatura"),
    (" 2", "M   ", "Matematika"),
    (" 3", "AJ", "Anglický jazyk"),
    (" 4", "Prv", "Prvouka"),
    (" 5", "Př", "Přírodopis"),
    (" 6", "B", "Biologie"),
    (" 7 ", "Z", "Zeměpis"),
    (" 8", "D", "Dějepis"),
    (" 9", "F", "Fyzika"),
    ("10", "Ch", "Chemie"),
    ("15", "TV", "Tělesná výchova"),
    ("16", "HV", "Hudební výchova"),
    ("17", "VV", "Výtvarná výchova"),
    ("18", "Inf", "Informatika"),
    ("19", "OV", "Občanská výchova"),
    ("21", "Sem", "Volitelný seminář"),  # offered, but not in the permanent timetable
]
# grade -> [(subject id, lessons a week)]
CURRICULUM = {
    **{g: [("28", 8), (" 2", 4), (" 4", 2), ("15", 2), ("16", 1), ("17", 1)] for g in (1, 2)},
    **{g: [("28", 7), (" 2", 5), (" 3", 3), (" 4", 2), ("15", 2), ("16", 1), ("17", 2)]
       for g in (3, 4, 5)},
    **{g: [("28", 4), (" 2", 4), (" 3", 3), (" 5", 2), (" 7 ", 2), (" 8", 2), (" 9", 2),
           ("15", 2), ("18", 1), ("19", 1)] for g in (6, 7)},
    **{g: [("28", 4), (" 2", 4), (" 3", 3), (" 6", 2), (" 7 ", 1), (" 8", 2), (" 9", 2),
           ("10", 2), ("15", 2), ("19", 1)] for g in (8, 9)},
}
ROOMS = [("0X", "B", ""), ("5H", "5p", ""), ("2F", "Tv1", ""), ("SR", "1a", ""),
         ("U1", "U1", "Učebna 1"), ("U2", "U2", "Učebna 2"), ("U3", "U3", "Učebna 3"),
         ("U4", "U4", "Učebna 4"), ("JL", "Jaz", "Jazyková učebna"), ("PC", "PC", "Počítačová učebna"),
         ("CH", "Lab", "Laboratoř chemie"), ("TV2", "Tv2", "Malá tělocvična")]


@dataclass
class SchoolClass:
    id: str
    abbrev: str
    name: str
    grade: int


@dataclass
class Group:
    id: str
    class_id: str
    abbrev: str
    name: str


@dataclass
class Subject:
    id: str
    abbrev: str
    name: str


@dataclass
class Teacher:
    id: str
    abbrev: str
    name: str
    email: str


@dataclass
class Student:
    id: str
    class_id: str
    first_name: str
    last_name: str
    middle_name: str
    registration_number: int
    female: bool

    @property
    def display_name(self) -> str:
        return f"{self.last_name} {self.first_name}"


@dataclass
class Room:
    id: str
    abbrev: str
    name: str


@dataclass
class Teaching:
    """A teaching assignment: one group, one subject, one teacher ("atom" in Bakaláři)."""

    atom_id: str
    group_id: str
    subject_id: str
    teacher_id: str
    room_id: str
    lessons: int


class CzechSchool:
    """``CzechSchool(seed=42)`` builds the whole school; the same seed gives the same school."""

    def __init__(self, seed: int = 42, students_per_class: tuple[int, int] = (14, 20),
                 second_class_grades: tuple[int, ...] = (1, 6, 9)):
        self.seed = seed
        self.classes: dict[str, SchoolClass] = {}
        self.groups: dict[str, Group] = {}
        self.subjects: dict[str, Subject] = {}
        self.teachers: dict[str, Teacher] = {}
        self.students: dict[str, Student] = {}
        self.rooms: dict[str, Room] = {}
        self.teachings: list[Teaching] = []
        self.memberships: dict[str, set[str]] = {}  # student id -> group ids
        self._rng = random.Random(seed)
        self._used: set[str] = set()
        self._populate(students_per_class, second_class_grades)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, seed: int = 42, students_per_class: tuple[int, int] = (14, 20),
              second_class_grades: tuple[int, ...] = (1, 6, 9)) -> CzechSchool:
        return cls(seed, students_per_class, second_class_grades)

    def _code(self, length: int, prefix: str = "") -> str:
        while True:
            code = prefix + "".join(self._rng.choice(_ALNUM) for _ in range(length - len(prefix)))
            if code not in self._used:
                self._used.add(code)
                return code

    def _populate(self, per_class: tuple[int, int], second_grades: tuple[int, ...]) -> None:
        rng = self._rng
        for rid, abbrev, name in ROOMS:
            self.rooms[rid] = Room(rid, abbrev, name)
        for sid, abbrev, name in SUBJECTS:
            self.subjects[sid] = Subject(sid, abbrev, name)
        self._make_teachers(20)
        teacher_ids = list(self.teachers)
        for grade in range(1, 10):
            for letter in ("A", "B") if grade in second_grades else ("A",):
                self._make_class(grade, letter, rng.randint(*per_class))
        # teaching assignments: each subject of a class goes to a teacher, split subjects
        # to one teacher per group
        for klass in self.classes.values():
            whole = self._group_of(klass.id, "")
            for sid, lessons in CURRICULUM[klass.grade]:
                if sid == " 3" and klass.grade >= 3:
                    targets = [self._group_of(klass.id, " Aj1"), self._group_of(klass.id, " Aj2")]
                elif sid == "15" and klass.grade >= 6:
                    targets = [self._group_of(klass.id, " Chl"), self._group_of(klass.id, " Dív")]
                else:
                    targets = [whole]
                for group in targets:
                    self.teachings.append(Teaching(
                        atom_id=self._atom_id(), group_id=group.id, subject_id=sid,
                        teacher_id=rng.choice(teacher_ids),
                        room_id=rng.choice(list(self.rooms)), lessons=lessons))
        # staff who teach nothing: only the Data Connector's staff list shows them
        self.teachers["UR3DT"] = Teacher("UR3DT", "Řd", "PaedDr. Miroslava Štěpánková",
                                         "miroslava.stepankova@zs-example.invalid")
        self.rooms["SBR"] = Room("SBR", "Sb", "Sborovna")

    def teaching_teacher_ids(self) -> set[str]:
        return {t.teacher_id for t in self.teachings if t.group_id in self.groups}

    def _atom_id(self) -> str:
        code = self._code(6)
        # a few atom ids carry a space, so clients must percent-encode them in paths
        return code[:3] + " " + code[3:] if self._rng.random() < 0.15 else code

    def _make_teachers(self, count: int) -> None:
        rng = self._rng
        fixed = ["U  12", "U   4", "URBOT", "UZBNM", "UMZ4P"]  # the documented shapes
        for i in range(count):
            tid = fixed[i] if i < len(fixed) else self._code(5, "U")
            female = rng.random() < 0.7
            first = rng.choice(FEMALE_FIRST if female else MALE_FIRST)
            last = rng.choice(SURNAMES)[1 if female else 0]
            abbrev = (last[:2] if i % 4 else last[:1] + first[:1]).strip()
            name = f"{rng.choice(DEGREES)} {first} {last}"
            email = f"{_ascii(first)}.{_ascii(last)}@zs-example.invalid".lower()
            self.teachers[tid] = Teacher(tid, abbrev, name, email)

    def _make_class(self, grade: int, letter: str, size: int) -> None:
        cid = self._code(2)
        if grade == 7:
            cid = cid[0] + " "  # a class id with a trailing space
        abbrev = f"{grade}.{letter}"
        self.classes[cid] = SchoolClass(cid, abbrev, f"{grade}. {letter}", grade)
        gid_whole = self._code(2, "0")
        self.groups[gid_whole] = Group(gid_whole, cid, abbrev, f"{grade}. {letter}")
        splits = []
        if grade >= 3:
            splits += [(" Aj1", " angličtina 1"), (" Aj2", " angličtina 2")]
        if grade >= 6:
            splits += [(" Chl", " chlapci"), (" Dív", " dívky")]
        for suffix, label in splits:
            gid = self._code(2)
            if grade == 8 and suffix == " Aj2":
                gid = " " + gid  # a group id with a leading space, like subject " 6"
            self.groups[gid] = Group(gid, cid, abbrev + suffix, f"{grade}. {letter}{label}")
        for _ in range(size):
            self._make_student(cid)

    def _group_of(self, class_id: str, suffix: str) -> Group:
        abbrev = self.classes[class_id].abbrev + suffix
        return next(g for g in self.groups.values() if g.class_id == class_id and g.abbrev == abbrev)

    def _make_student(self, class_id: str, first: str | None = None, last: str | None = None,
                      female: bool | None = None) -> Student:
        rng = self._rng
        female = rng.random() < 0.5 if female is None else female
        first = first or rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        last = last or rng.choice(SURNAMES)[1 if female else 0]
        sid = self._code(5)
        roll = rng.random()
        if roll < 0.04:
            sid = sid[:4] + " "  # trailing space
        elif roll < 0.08:
            sid = sid[:2] + " " + sid[3:]  # inner space
        number = 1 + sum(1 for s in self.students.values() if s.class_id == class_id)
        middle = rng.choice(FEMALE_FIRST if female else MALE_FIRST) if rng.random() < 0.05 else ""
        student = Student(sid, class_id, first, last, middle, number, female)
        self.students[sid] = student
        self.memberships[sid] = self._groups_for(student)
        return student

    def _groups_for(self, student: Student) -> set[str]:
        klass = self.classes[student.class_id]
        ids = {self._group_of(klass.id, "").id}
        if klass.grade >= 3:
            ids.add(self._group_of(klass.id, " Aj1" if student.registration_number % 2 else " Aj2").id)
        if klass.grade >= 6:
            ids.add(self._group_of(klass.id, " Dív" if student.female else " Chl").id)
        return ids

    # -- queries --------------------------------------------------------------------------
    def students_in_group(self, group_id: str) -> list[Student]:
        return [self.students[sid] for sid, groups in self.memberships.items() if group_id in groups]

    def class_by_abbrev(self, abbrev: str) -> SchoolClass:
        return next(c for c in self.classes.values() if c.abbrev == abbrev)

    # -- mutations for tests --------------------------------------------------------------
    def rename_class(self, class_id: str, *, name: str | None = None, abbrev: str | None = None) -> None:
        """Rename a class; a new abbreviation also renames its groups ("9.A Aj1" -> "9.X Aj1")."""
        klass = self.classes[class_id]
        if abbrev is not None:
            for group in self.groups.values():
                if group.class_id == class_id and group.abbrev.startswith(klass.abbrev):
                    group.abbrev = abbrev + group.abbrev[len(klass.abbrev):]
            klass.abbrev = abbrev
        if name is not None:
            klass.name = name

    def remove_student(self, student_id: str) -> Student:
        """The student leaves the school: gone from every class and group."""
        self.memberships.pop(student_id, None)
        return self.students.pop(student_id)

    def add_student(self, class_id: str, first_name: str | None = None, last_name: str | None = None,
                    female: bool | None = None) -> Student:
        """A new student joins ``class_id`` (and its groups)."""
        return self._make_student(class_id, first_name, last_name, female)


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
