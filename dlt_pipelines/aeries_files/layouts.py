"""Aeries CSV export layouts: which file is which table, and header names to API field names.

Districts without an API certificate export Aeries tables to CSV (the query tool, "Export to
Excel/CSV", scheduled exports). The same column appears under three spellings, all accepted, in
any order and any case, with or without spaces, underscores or a ``TABLE.`` prefix:

* ``codes``: the Aeries table's field codes (``SC``, ``ID``, ``DT``, ``AL``, ``A0`` ... ``A9``);
* ``labels``: the descriptions shown in Aeries (``School Code``, ``Student ID``, ``Date``,
  ``All Day``, ``Period 1`` ...);
* ``api``: the API v5 field names (``SchoolCode``, ``StudentID``, ``CalendarDate``,
  ``AllDayAttendanceCode`` ...).

Every column maps to the API field name, so the rows land in the same ``raw_aeries`` tables, with
the same column names and types, as the API path (docs/aeries-csv.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlt_pipelines.common.filedrop import header_problem

INT, TEXT, CODE, DATE, BOOL = "int", "text", "code", "date", "bool"
LAYOUTS = ("codes", "labels", "api")


@dataclass(frozen=True)
class Field:
    api: str  # API v5 field name (PascalCase); dlt's snake_case of it is the raw column
    kind: str
    code: str  # Aeries table field code
    label: str  # description as Aeries shows it
    required: bool = False
    aliases: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    blank_ok: bool = False  # a required column whose cells may be empty

    def names(self) -> tuple[str, ...]:
        return (self.api, self.code, self.label, *self.aliases)

    def header(self, layout: str) -> str:
        return {"codes": self.code, "labels": self.label, "api": self.api}[layout]


@dataclass(frozen=True)
class Table:
    name: str  # the Aeries table (ATT, STU, ...)
    resource: str  # the raw_aeries table it lands in
    fields: tuple[Field, ...]
    file_names: tuple[str, ...]  # file name stems that mean this table

    def by_api(self) -> dict[str, Field]:
        return {f.api: f for f in self.fields}


SCHOOL = Field("SchoolCode", INT, "SC", "School Code", True, ("School", "SCL", "Sch"), 0, 9999)
STUDENT = Field("StudentID", INT, "ID", "Student ID", True, ("Perm ID", "Permanent ID", "PermanentID",
                                                             "Student Perm ID"), 1, 999_999_999_999)
STUDENT_NUMBER = Field("StudentNumber", INT, "SN", "Student Number", False, ("Student No", "Stu#"),
                       0, 999_999_999)

# ATT: one row per student-day; AL the all-day code, A0..A9 the period codes. SE0..SE9 (optional)
# the section of each period (CAR.SE), added by districts from the master schedule.
PERIODS = tuple(str(p) for p in range(10))
ATT = Table("ATT", "attendance", (
    SCHOOL, STUDENT, STUDENT_NUMBER,
    Field("CalendarDate", DATE, "DT", "Date", True, ("Attendance Date", "Calendar Date", "Day Date")),
    Field("AllDayAttendanceCode", CODE, "AL", "All Day", True, ("All Day Code", "All Day Attendance Code",
                                                                "AllDay"), blank_ok=True),
    *(Field(f"Period{p}", CODE, f"A{p}", f"Period {p}", False, (f"Per {p}", f"P{p}", f"Period {p} Code"))
      for p in PERIODS),
    *(Field(f"Section{p}", INT, f"SE{p}", f"Section {p}", False, (f"Sec {p}", f"Period {p} Section"),
            0, 999_999_999) for p in PERIODS),
), ("att", "attendance", "daily_attendance", "period_attendance"))

STU = Table("STU", "students", (
    SCHOOL, STUDENT, STUDENT_NUMBER,
    Field("StateStudentID", TEXT, "CID", "State Student ID", False, ("SSID", "CSIS ID", "State ID")),
    Field("LastName", TEXT, "LN", "Last Name", True),
    Field("FirstName", TEXT, "FN", "First Name", True),
    Field("MiddleName", TEXT, "MN", "Middle Name"),
    Field("Gender", CODE, "SX", "Sex", False, ("Gender",)),
    Field("Grade", INT, "GR", "Grade", True, ("Grade Level",), -2, 18),
    Field("Birthdate", DATE, "BD", "Birth Date", False, ("Birthdate", "Date of Birth", "DOB")),
    Field("SchoolEnterDate", DATE, "SED", "School Enter Date", False, ("Enter Date", "ED")),
    Field("SchoolLeaveDate", DATE, "SLD", "School Leave Date", False, ("Leave Date", "LD")),
    Field("DistrictEnterDate", DATE, "DED", "District Enter Date"),
    Field("InactiveStatusCode", CODE, "TG", "Inactive Status Code", False, ("Status Tag", "Tag")),
), ("stu", "students", "student"))

ENR = Table("ENR", "enrollment", (
    STUDENT, SCHOOL, STUDENT_NUMBER,
    Field("AcademicYear", TEXT, "YR", "Academic Year", True, ("Year", "School Year")),
    Field("Grade", INT, "GR", "Grade", False, ("Grade Level",), -2, 18),
    Field("EnterDate", DATE, "ED", "Enter Date", True, ("Entry Date",)),
    Field("LeaveDate", DATE, "LD", "Leave Date", False, ("Exit Date",)),
    Field("ExitReasonCode", CODE, "ER", "Exit Reason", False, ("Exit Reason Code", "Leave Reason")),
), ("enr", "enrollment", "enrollments"))

ABS = Table("ABS", "absence_codes", (
    SCHOOL,
    Field("AbsenceCode", TEXT, "CD", "Absence Code", True, ("Code",)),
    Field("Title", TEXT, "TI", "Title", False, ("Description",)),
    Field("Abbreviation", TEXT, "AB", "Abbreviation", False, ("Abbrev",)),
    Field("TypeCode", INT, "TY", "Type", True, ("Type Code", "Absence Type"), 1, 9),
    Field("TypeDescription", TEXT, "TYD", "Type Description"),
    Field("CountsForADA", BOOL, "AD", "Counts for ADA", False, ("ADA",)),
    Field("IsSuspension", BOOL, "SU", "Suspension", False, ("Is Suspension",)),
    Field("IsTemporarilyNotEnrolled", BOOL, "NE", "Temporarily Not Enrolled", False,
          ("Is Temporarily Not Enrolled",)),
    Field("IndependentStudyCode", CODE, "IS", "Independent Study Code", False, ("Independent Study",)),
    Field("IsPartialDayTruant", BOOL, "PT", "Partial Day Truant", False, ("Is Partial Day Truant",)),
), ("abs", "absence_codes", "absencecodes"))

LOC = Table("LOC", "schools", (
    Field("SchoolCode", INT, "CD", "School Code", True, ("SC", "School"), 0, 9999),
    Field("Name", TEXT, "NM", "School Name", True, ("Name",)),
    Field("LowGradeLevel", INT, "LO", "Low Grade", False, ("Low Grade Level",), -2, 18),
    Field("HighGradeLevel", INT, "HI", "High Grade", False, ("High Grade Level",), -2, 18),
    Field("AttendanceType", TEXT, "A", "Attendance Type"),
    Field("AttendanceReporting", TEXT, "B", "Attendance Reporting"),
    Field("AttendancePeriod", INT, "J", "Attendance Period", False, (), 0, 9),
    Field("InactiveStatusCode", CODE, "TG", "Inactive Status Code", False, ("Status Tag",)),
), ("loc", "schools", "school"))

DAY = Table("DAY", "calendar", (
    SCHOOL,
    Field("CalendarDate", DATE, "DT", "Date", True, ("Calendar Date",)),
    Field("CalendarDayNumber", INT, "DY", "Day Number", False, ("Calendar Day Number",), 0, 400),
    Field("HolidayCode", CODE, "HO", "Holiday", False, ("Holiday Code",)),
    Field("AttendanceMonth", INT, "MO", "Attendance Month", False, ("Month",), 0, 13),
    Field("AttendanceMonthLocked", BOOL, "ML", "Month Locked", False, ("Attendance Month Locked",)),
), ("day", "calendar"))

_DAYS = [("DaysEnrolled", "EN", "Days Enrolled"), ("DaysPresent", "PR", "Days Present"),
         ("DaysAbsence", "AB", "Days Absent"), ("DaysExcused", "AE", "Days Excused"),
         ("DaysUnexcused", "AU", "Days Unexcused"), ("DaysTardy", "TD", "Days Tardy"),
         ("DaysOfTruancy", "TRU", "Days of Truancy"), ("DaysSuspension", "SU", "Days Suspended"),
         ("DaysInSchoolSuspension", "ISS", "Days In-School Suspension")]
AHS = Table("AHS", "attendance_history_summary", (
    STUDENT,
    Field("SchoolCode", INT, "SCL", "School Code", True, ("SC", "School"), 0, 9999),
    Field("SchoolYear", TEXT, "HR", "School Year", True, ("Year",)),
    *(Field(api, INT, code, label, False, (), 0, 400) for api, code, label in _DAYS),
), ("ahs", "attendance_history_summary", "attendance_history"))

TABLES: dict[str, Table] = {t.name: t for t in (ATT, STU, ENR, ABS, LOC, DAY, AHS)}
# longest stems first, so "attendance_history_summary" is not read as "attendance"
_STEMS = sorted(((stem, t.name) for t in TABLES.values() for stem in t.file_names), key=lambda s: -len(s[0]))
FILE_PATTERN = re.compile(
    r"^(?P<stem>" + "|".join(re.escape(s) for s, _ in _STEMS) + r")(?:[-_ .][\w .-]*)?\.csv$", re.IGNORECASE)
TYPE_DESCRIPTIONS = {
    1: "Unverified Absence", 2: "Excused Absence", 3: "Unexcused Absence", 4: "Verified Not Absent",
    5: "Tardy", 6: "Present", 7: "Not Used", 8: "Verified Excused Tardy", 9: "Verified Unexcused Tardy",
}


def classify(name: str) -> str | None:
    """``ATT_101_20250613.csv`` -> ``ATT``; None for other files."""
    m = FILE_PATTERN.match(name)
    if not m:
        return None
    stem = m.group("stem").lower()
    return next(table for s, table in _STEMS if s == stem)


def norm(header: str) -> str:
    """A header as compared: table prefix, case, spaces and punctuation removed."""
    text = header.replace("\ufeff", "").strip()
    text = re.sub(r"^[A-Za-z]{3}\.", "", text)  # ATT.SC
    return re.sub(r"[^0-9a-z#]+", "", text.casefold())


@dataclass
class HeaderMatch:
    table: Table
    fields: list[Field | None]  # per file column
    layout: str
    missing: list[str]
    unknown: list[str]
    duplicated: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unknown or self.duplicated)

    def problem(self) -> str:
        known = sum(1 for f in self.fields if f)
        return header_problem(f"an Aeries {self.table.name}", known, len(self.fields),
                              self.missing, self.unknown, self.duplicated)


def match_header(cells: list[str], table: Table) -> HeaderMatch:
    lookup: dict[str, Field] = {}
    for f in table.fields:
        for name in f.names():
            lookup.setdefault(norm(name), f)
    fields: list[Field | None] = []
    seen: set[str] = set()
    unknown, duplicated = [], []
    votes = dict.fromkeys(LAYOUTS, 0)
    for cell in cells:
        key = norm(cell)
        f = lookup.get(key)
        fields.append(f)
        if f is None:
            unknown.append(cell.strip())
            continue
        text = cell.replace("\ufeff", "").strip()
        for name in LAYOUTS:
            votes[name] += text == f.header(name)
        if f.api in seen:
            duplicated.append(cell.strip())
        seen.add(f.api)
    layout = max(LAYOUTS, key=lambda k: votes[k])  # ties: codes, then labels, then api
    missing = [f.header(layout) for f in table.fields if f.required and f.api not in seen]
    return HeaderMatch(table, fields, layout, missing, unknown, duplicated)
