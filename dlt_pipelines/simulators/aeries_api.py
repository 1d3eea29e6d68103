"""Aeries SIS REST API v5 simulator over the synthetic district.

Serves `{root}/api/v5/...` as documented (docs/simulators.md, shared/reference/aeries-api.md):
PascalCase keys, bare arrays (single objects too), dates `YYYY-MM-DDT00:00:00`, blank codes as
"", 1-based inclusive StartingRecord/EndingRecord paging, the AERIES-CERT header (name
case-insensitive) or ?cert=, 401 `{"Message": ...}` on a bad certificate, DatabaseYear falling
back silently. `today` is the simulated clock: attendance entered after it, and corrections
made after it, are not visible yet.

Attendance bodies are the big ones (every student-day at Positive schools), so they are
rendered straight to bytes, cached per (school, window, today) compressed, and can be
pre-rendered before a benchmark starts; `render_seconds` reports the simulator's own cost.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import orjson

from .district import AttendanceRecord, District, Enrollment
from .faults import FaultSettings
from .http_base import Request, Response, SimulatorServer

DEFAULT_CERT = "5e0c1f9a7b3d4e2f8a6c0b9d1e7f3a52"  # fictional, like the demo's 32-hex certificate
AERIES_VERSION = "10.24.11.5"
_SC = r"/api/v5/schools/(?P<sc>-?\d+)"
# An attendance month is locked this many days after it ends: later than any generated correction
# (at most 35 days and a weekend after the absence), as Aeries refuses edits to a locked month.
MONTH_LOCKED_AFTER_DAYS = 40


def _dt(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T00:00:00"


def _not_found(message: str) -> Response:
    return Response.json({"Message": message}, 404)


def _bad_request(message: str) -> Response:
    return Response.json({"Message": message}, 400)


def _parse_yyyymmdd(value: str | None, default: date) -> date:
    if not value:
        return default
    return datetime.strptime(value, "%Y%m%d").date()


def _json(payload) -> Response:
    return Response.raw_json(orjson.dumps(payload))


def render_attendance(records: Iterable[AttendanceRecord]) -> bytes:
    """The attendance endpoint's JSON, built from byte fragments (records come grouped by
    student). Codes are single letters and periods digits, so no escaping is needed."""
    parts: list[bytes] = [b"["]
    date_prefix: dict[date, bytes] = {}
    classes_json: dict[tuple, bytes] = {}  # keyed by value: present days share a few
    current = None
    for sid, day, all_day, classes in records:
        if sid != current:
            parts.append(b'{"StudentID":%d,"AttendanceDays":[' % sid if current is None
                         else b']},{"StudentID":%d,"AttendanceDays":[' % sid)
            current = sid
        else:
            parts.append(b",")
        prefix = date_prefix.get(day)
        if prefix is None:
            prefix = date_prefix[day] = b'{"CalendarDate":"%sT00:00:00","AllDayAttendanceCode":"' % (
                day.isoformat().encode())
        body = classes_json.get(classes)
        if body is None:
            body = classes_json[classes] = b"[" + b",".join(
                b'{"SectionNumber":%d,"Period":"%s","AttendanceCode":"%s"}' % (s, p.encode(), c.encode())
                for p, s, c in classes) + b"]"
        parts.append(b'%s%s","Classes":%s}' % (prefix, all_day.encode(), body))
    if current is not None:
        parts.append(b"]}")
    parts.append(b"]")
    return b"".join(parts)


class AeriesSimulator(SimulatorServer):
    ROOT = "/aeries"

    def __init__(self, district: District, cert: str = DEFAULT_CERT, faults: FaultSettings | None = None,
                 today: date | None = None):
        super().__init__(faults, prefix=self.ROOT)
        self.district = district
        self.cert = cert
        self.today = today or district.config.end_date + timedelta(days=1)
        self.render_seconds = 0.0
        self._cache: dict[tuple, bytes] = {}
        self._cache_lock = threading.Lock()
        self._register()

    @property
    def base_url(self) -> str:
        """The tenant root; clients append /api/v5/..."""
        return self.origin + self.ROOT

    # -- clock -----------------------------------------------------------------------
    def advance_day(self, n: int = 1) -> date:
        """Move the simulated clock: new days appear, corrections made by then apply."""
        self.today += timedelta(days=n)
        with self._cache_lock:
            self._cache = {k: v for k, v in self._cache.items() if k[-1] == self.today}
        return self.today

    def edit_day(self, school_code: int, student_id: int, day: date, all_day: str | None) -> None:
        """An office edit made today (visible from today on): see District.edit_day."""
        self.district.edit_day(school_code, student_id, day, all_day, self.today)
        self._drop_cache()

    def withdraw(self, school_code: int, student_id: int, leave_date: date) -> None:
        self.district.withdraw(school_code, student_id, leave_date)
        self._drop_cache()

    def _drop_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    # -- truth for tests and benchmarks ----------------------------------------------
    def expected_attendance(self, school_code: int, start: date | None = None, end: date | None = None,
                            student_id: int | None = None) -> list[AttendanceRecord]:
        """What the attendance endpoint serves today for this window, as records."""
        return list(self.district.attendance(school_code, start, end, as_of=self.today,
                                             student_id=student_id))

    def prerender(self, school_codes: Iterable[int], chunks: Iterable[tuple[date, date]]) -> float:
        """Render and cache the attendance bodies of a fetch plan; returns the seconds spent."""
        chunks = list(chunks)
        started = time.perf_counter()
        for sc in school_codes:
            for start, end in chunks:
                self._attendance_body(sc, start, end, None)
        return time.perf_counter() - started

    def _attendance_body(self, sc: int, start: date, end: date, student_id: int | None) -> bytes:
        key = (sc, start, end, student_id or 0, self.today)
        with self._cache_lock:
            packed = self._cache.get(key)
        started = time.perf_counter()
        if packed is None:
            body = render_attendance(self.district.attendance(sc, start, end, as_of=self.today,
                                                              student_id=student_id))
            with self._cache_lock:
                self._cache[key] = zlib.compress(body, 1)
        else:
            body = zlib.decompress(packed)
        with self._cache_lock:
            self.render_seconds += time.perf_counter() - started
        return body

    # -- routing ---------------------------------------------------------------------
    def _register(self) -> None:
        get = lambda pattern, handler: self.route("GET", pattern, handler)  # noqa: E731
        get(r"/api/v5/systeminfo", self._systeminfo)
        get(r"/api/v5/schools", self._authed(self._schools))
        get(_SC, self._authed(self._schools))
        get(_SC + r"/terms", self._authed(self._terms))
        get(_SC + r"/calendar", self._authed(self._calendar))
        get(_SC + r"/absencecodes(?:/(?P<code>[^/]+))?", self._authed(self._absence_codes))
        get(_SC + r"/students(?:/(?P<sid>\d+))?", self._authed(self._students))
        get(_SC + r"/students/grade/(?P<grade>-?\d+)", self._authed(self._students))
        get(_SC + r"/students/sn/(?P<sn>\d+)", self._authed(self._students))
        get(_SC + r"/enrollment/(?P<sid>\d+)(?:/year/(?P<year>[^/]+))?", self._authed(self._enrollment))
        get(_SC + r"/attendance(?:/(?P<sid>\d+))?", self._authed(self._attendance))
        get(_SC + r"/attendancehistory/summary(?:/(?P<sid>\d+))?(?:/year/(?P<year>[^/]+))?",
            self._authed(self._history_summary))

    def _authed(self, handler):
        def wrapped(request: Request) -> Response:
            supplied = request.header("AERIES-CERT") or request.query.get("cert")
            if self.faults.settings.reject_credentials or supplied != self.cert:
                response = Response.json({"Message": "The certificate supplied is not valid."}, 401)
                response.fault_exempt = True
                return response
            sc = request.params.get("sc")
            if sc is not None and int(sc) not in {s.school_code for s in self.district.schools}:
                return _not_found(f"School {sc} was not found.")
            return handler(request)
        return wrapped

    # -- handlers --------------------------------------------------------------------
    def _systeminfo(self, request: Request) -> Response:
        year = self.district.school_year
        return _json({
            "AeriesVersion": AERIES_VERSION, "DatabaseYear": year, "AvailableDatabaseYears": [year],
            "LocalTimeZoneName": "(UTC-08:00) Pacific Time (US & Canada)",
            "CurrentDateTime": f"{self.today.isoformat()}T06:30:00.0000000-07:00",
        })

    def _term_rows(self, sc: int) -> list[dict]:
        return [{"FirstHalfEndDate": None, "SecondHalfStartDate": None, "TrackTerms": [],
                 "TermCode": t.code, "TermDescription": t.description,
                 "StartDate": _dt(t.start), "EndDate": _dt(t.end)} for t in self.district.terms(sc)]

    def _school_row(self, sc: int) -> dict:
        s = self.district.school(sc)
        return {
            "RegionCode": "", "StateCharterNumber": "", "CharterStatusCode": "", "FederalTaxID": "",
            "NCESSchoolID": "", "CollegeBoardSchoolCode": "", "ShortName": s.name.split()[0][:10],
            "EarlyCollegeHighSchoolIndicator": False, "Terms": self._term_rows(sc),
            "SchoolCode": s.school_code, "Name": s.name, "InactiveStatusCode": "",
            "Address": s.address, "AddressCity": s.city, "AddressState": "CA", "AddressZipCode": s.zip_code,
            "AddressZipExt": "", "DoNotReport": False, "StateCountyID": "65", "StateDistrictID": "99999",
            "StateSchoolID": s.state_school_id, "LowGradeLevel": s.low_grade, "HighGradeLevel": s.high_grade,
            "PrincipalName": s.principal_name, "PrincipalEmailAddress": "", "AttendancePeriod": 0,
            "Tracks": 0, "ScheduleType": "MasterSchedule", "SessionType": "Regular",
            "AttendanceType": s.attendance_type, "AttendanceReporting": s.attendance_reporting,
            "ScheduleBasis": "Semester", "PhoneNumber": s.phone,
        }

    def _schools(self, request: Request) -> Response:
        sc = request.params.get("sc")
        codes = [int(sc)] if sc is not None else [s.school_code for s in self.district.schools]
        return _json([self._school_row(code) for code in codes])

    def _terms(self, request: Request) -> Response:
        return _json(self._term_rows(int(request.params["sc"])))

    def _calendar(self, request: Request) -> Response:
        sc = int(request.params["sc"])
        days = [d for d in self.district.calendar(sc) if not d.is_weekend]
        month_end: dict[int, date] = {}
        for d in days:
            month_end[d.attendance_month] = d.calendar_date
        locked_before = self.today - timedelta(days=MONTH_LOCKED_AFTER_DAYS)
        return _json([{
            "TrackHolidays": [], "SchoolCode": sc, "CalendarDayNumber": d.day_number,
            "CalendarDate": _dt(d.calendar_date), "HolidayCode": d.holiday_code,
            "AttendanceMonth": d.attendance_month, "TotalApportionment": 0, "TotalEnrollment": 0,
            "PeriodBlockPattern": "01234567" if d.is_instructional else "", "ABDay": "",
            "AttendanceMonthLocked": month_end[d.attendance_month] < locked_before,
        } for d in days])

    def _absence_codes(self, request: Request) -> Response:
        sc = int(request.params["sc"])
        wanted = request.params.get("code")
        rows = [{
            "IsTemporarilyNotEnrolled": c.is_temporarily_not_enrolled,
            "IndependentStudyCode": c.independent_study_code, "ColorCode": "", "SchoolCode": sc,
            "AbsenceCode": c.code, "Title": c.title,
            "Abbreviation": c.abbreviation, "TypeCode": c.type_code, "TypeDescription": c.type_description,
            "CountsForADA": c.counts_for_ada, "IncludeOnLetters": c.type_code in (1, 3),
            "IncludeInParentNotifications": c.type_code in (1, 2, 3), "IncludeOnReports": c.type_code != 6,
            "CountOnReportCard": c.type_code in (1, 2, 3, 5), "IsSuspension": c.is_suspension,
            "IsPartialDayTruant": c.is_partial_day_truant,
        } for c in self.district.absence_codes(sc) if wanted is None or c.code == wanted]
        if wanted is not None and not rows:
            return _not_found(f"Absence code {wanted} was not found.")
        return _json(rows)

    def _visible(self, sc: int) -> list[Enrollment]:
        """Enrollment records at the school that exist on the simulated date."""
        return [e for e in self.district.students_at(sc) if e.enter_date <= self.today]

    def _left(self, e: Enrollment) -> date | None:
        return e.leave_date if e.leave_date is not None and e.leave_date < self.today else None

    def _student_row(self, e: Enrollment) -> dict:
        s = self.district.student(e.student_id)
        left = self._left(e)
        return {
            "StudentID": s.student_id, "OldStudentID": 0, "CorrespondenceLanguageCode": "00",
            "CounselorNumber": e.school_code * 1000 + 700 + s.student_id % 3,
            "StudentPersonalEmailAddress": "", "SchoolCode": e.school_code, "StudentNumber": e.student_number,
            "StateStudentID": s.state_student_id, "LastName": s.last_name, "FirstName": s.first_name,
            "MiddleName": s.middle_name, "LastNameAlias": "", "FirstNameAlias": "", "MiddleNameAlias": "",
            "Gender": s.gender, "Grade": e.grade, "GradeLevelShortDescription": str(e.grade),
            "GradeLevelLongDescription": {6: "Sixth Grade", 7: "Seventh Grade", 8: "Eighth Grade"}[e.grade],
            "Birthdate": _dt(s.birthdate), "ParentGuardianName": f"Parent/Guardian of {s.first_name}",
            "HomePhone": "", "StudentMobilePhone": "", "MailingAddress": s.address,
            "MailingAddressCity": "Alder Springs", "MailingAddressState": "CA",
            "MailingAddressZipCode": "95000", "MailingAddressZipExt": "", "ResidenceAddress": s.address,
            "ResidenceAddressCity": "Alder Springs",
            "ResidenceAddressState": "CA", "ResidenceAddressZipCode": "95000", "ResidenceAddressZipExt": "",
            "AddressVerified": False, "EthnicityCode": "N", "RaceCode1": "700", "RaceCode2": "",
            **{f"UserCode{i}": "" for i in range(1, 14)},
            "SchoolEnterDate": _dt(e.enter_date), "SchoolLeaveDate": _dt(left),
            "DistrictEnterDate": _dt(s.district_enter_date), "Track": "",
            "AttendanceProgramCodePrimary": "", "AttendanceProgramCodeAdditional1": "",
            "AttendanceProgramCodeAdditional2": "", "LockerNumber": "", "LowSchedulingPeriod": 0,
            "HighSchedulingPeriod": 9, "InactiveStatusCode": "I" if left else "", "FamilyKey": 0,
            "LanguageFluencyCode": "E", "HomeLanguageCode": "00", "ParentEdLevelCode": "",
            "ParentEmailAddress": "", "StudentEmailAddress": "", "NetworkLoginID": "",
            "EarlyWarningPoints": 0.0, "HomeRoomTeacherNumber": "0", "NotificationPreferenceCode": "",
            "NextSchoolCode": 0, "NextGrade": e.grade + 1,
            "NextGradeLevelShortDescription": str(e.grade + 1),
            "NextGradeLevelLongDescription": "", "RecordsReleaseCode": "",
        }

    def _students(self, request: Request) -> Response:
        sc = int(request.params["sc"])
        records = self._visible(sc)
        p = request.params
        if p.get("sid"):
            records = [e for e in records if e.student_id == int(p["sid"])]
        if p.get("grade"):
            records = [e for e in records if e.grade == int(p["grade"])]
        if p.get("sn"):
            records = [e for e in records if e.student_number == int(p["sn"])]
        try:
            first = int(request.query.get("startingrecord") or 1)
            last = int(request.query.get("endingrecord") or len(records))
        except ValueError:
            return _bad_request("StartingRecord and EndingRecord must be numbers.")
        return _json([self._student_row(e) for e in records[max(first, 1) - 1:max(last, 0)]])

    def _enrollment(self, request: Request) -> Response:
        sc, sid = int(request.params["sc"]), int(request.params["sid"])
        year = request.params.get("year")
        if year is not None and year != str(self.district.fall_year):
            return _json([])
        rows = []
        for e in self._visible(sc):
            if sid and e.student_id != sid:
                continue
            left = self._left(e)
            later = [n for n in self.district._by_student[e.student_id] if n.enter_date > e.enter_date]
            rows.append({
                "StudentID": e.student_id, "InterIntraDistrictStateCode": "", "NonpublicSchoolStateCode": "",
                "NextSchoolCode": later[0].school_code if left and later else 0, "ReportingSchoolCode": 0,
                "SchoolCode": sc, "StudentNumber": e.student_number,
                "AcademicYear": str(self.district.fall_year),
                "Track": "", "AttendanceProgramCode": "", "AttendanceProgramCodeAdditional1": "",
                "AttendanceProgramCodeAdditional2": "", "Grade": e.grade, "ElementaryTeacherNumber": 0,
                "ElementaryTeacherName": "", "EnterDate": _dt(e.enter_date), "LeaveDate": _dt(left),
                "ExitReasonCode": e.exit_reason_code if left else "", "InterIntraDistrictTransferCode": "",
            })
        return _json(rows)

    def _attendance(self, request: Request) -> Response:
        sc = int(request.params["sc"])
        sid = int(request.params["sid"]) if request.params.get("sid") else None
        cfg = self.district.config
        try:
            start = _parse_yyyymmdd(request.query.get("startdate"), cfg.start_date)
            end = _parse_yyyymmdd(request.query.get("enddate"), cfg.end_date)
        except ValueError:
            return _bad_request("StartDate and EndDate must be dates in the format YYYYMMDD.")
        return Response.raw_json(self._attendance_body(sc, start, end, sid))

    def _history_summary(self, request: Request) -> Response:
        sc = int(request.params["sc"])
        year = request.params.get("year")
        if year is not None and year != self.district.school_year:
            return _json([])
        sid = request.params.get("sid")
        rows = self.district.history_summary(sc, self.today, student_id=int(sid) if sid else None)
        empty = {"AttendanceProgramCodePrimary": "", "ReportingSchoolCode": 0}
        return _json([{"StudentID": r["StudentID"],
                       "HistorySummaries": [{**empty, **h} for h in r["HistorySummaries"]]} for r in rows])
