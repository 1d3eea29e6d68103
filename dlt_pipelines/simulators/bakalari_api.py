"""Bakaláři API v3 simulator: OAuth login, Bearer tokens that expire, and the roster routes.

Serves a :class:`CzechSchool` in the documented shapes (docs/bakalari.md, reference §2-§5):

- ``GET /api``, ``GET /api/3``: versions, no auth;
- ``POST /api/login``: form-encoded password and refresh grants (``client_id=ANDR``), a new
  refresh token on every grant (each one redeemable 3 times, as on the real server), 400
  ``invalid_grant`` for wrong credentials;
- behind ``Authorization: Bearer``: ``/api/3/user``, ``/api/3/timetable/permanent``
  (school-wide view of the sync account, Groups listed with duplicates), ``/api/3/subjects``
  (flat, ``SubjectID``/``TeacherID``), ``/api/3/marking/atoms`` and
  ``/api/3/marking/marks/{atomId}`` (the students of one teaching group, each with ClassId).

With ``connector=(username, password)`` the school also has the licensed Data Connector
(reference §5): ``/if/2/common/classes``, ``/if/2/common/staff`` and ``/if/2/common/rooms``
with HTTP Basic auth, JSON when asked with ``Accept: application/json`` (the JSON shape
follows the spec's illustrative ``{"MessageType": "Common.Staff", "Staff": [...]}``). Without
it those routes answer 404, as on a school without the licence.

An expired or unknown token gets 401 with the documented body and an OpenIddict-style
``WWW-Authenticate`` header. ``expire_tokens()`` invalidates every access token at once;
``expire_tokens_after(n)`` does it after ``n`` more authorised requests (mid-run in tests).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from urllib.parse import unquote

from .czech_school import CzechSchool
from .faults import FaultSettings
from .http_base import Request, Response, SimulatorServer

API_VERSION = "3.43.0"
APP_VERSION = "1.62.1015.1"
UNAUTHORIZED = {"Message": "Authorization has been denied for this request."}
EXPIRED_HEADER = ('Bearer error="invalid_token", error_description="The specified token is no longer '
                  'valid.", error_uri="https://documentation.openiddict.com/errors/ID2019"')
REFRESH_REDEMPTIONS = 3
HOURS = [(1, "0", "7:05", "7:50"), (2, "1", "8:00", "8:45"), (3, "2", "8:55", "9:40"),
         (4, "3", "10:00", "10:45"), (5, "4", "10:55", "11:40"), (6, "5", "11:50", "12:35"),
         (7, "6", "12:45", "13:30"), (8, "7", "13:40", "14:25")]


def _invalid_grant(description: str) -> Response:
    return Response.json({"error": "invalid_grant", "error_description": description}, 400)


class BakalariSimulator(SimulatorServer):
    def __init__(self, school: CzechSchool | None = None, *, username: str = "zastupce",
                 password: str = "heslo-pro-testy", faults: FaultSettings | None = None,
                 token_ttl_seconds: float = 3600, prefix: str = "",
                 connector: tuple[str, str] | None = None):
        super().__init__(faults, prefix)
        self.school = school or CzechSchool.build()
        self.username = username
        self.password = password
        self.token_ttl_seconds = token_ttl_seconds
        self.connector = connector
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}  # token -> expiry (monotonic)
        self._refresh: dict[str, int] = {}  # token -> redemptions so far
        self._expire_countdown: int | None = None
        self.stats = {"password_grants": 0, "refresh_grants": 0, "failed_logins": 0,
                      "unauthorized": 0, "authorized_requests": 0}
        self.route("GET", r"/api", self._versions)
        self.route("GET", r"/api/3", self._version)
        self.route("POST", r"/api/login", self._login)
        self.route("GET", r"/api/3/user", self._authed(self._user))
        self.route("GET", r"/api/3/timetable/permanent", self._authed(self._timetable))
        self.route("GET", r"/api/3/subjects", self._authed(self._subjects))
        self.route("GET", r"/api/3/marking/atoms", self._authed(self._atoms))
        self.route("GET", r"/api/3/marking/marks/(?P<atom>[^/]+)", self._authed(self._marks))
        self.route("GET", r"/if/2/common/(?P<what>classes|staff|rooms)", self._connector)

    @property
    def base_url(self) -> str:
        return self.origin + self.prefix

    # -- token control for tests ----------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every access token issued so far stops working now (refresh tokens still do)."""
        with self._lock:
            self._access.clear()

    def expire_tokens_after(self, requests: int) -> None:
        """Expire every access token once ``requests`` more authorised requests were served."""
        with self._lock:
            self._expire_countdown = requests

    # -- auth -----------------------------------------------------------------------------
    def _issue(self) -> dict:
        access, refresh = secrets.token_urlsafe(48), secrets.token_urlsafe(64)
        self._access[access] = time.monotonic() + self.token_ttl_seconds
        self._refresh[refresh] = 0
        return {"bak:ApiVersion": API_VERSION, "bak:AppVersion": APP_VERSION, "bak:UserId": "UZBNM",
                "access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                "expires_in": max(1, int(self.token_ttl_seconds) - 1),
                "scope": "openid profile offline_access bakalari_api"}

    def _login(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != "ANDR":
            return Response.json({"error": "invalid_client", "error_description":
                                  "The mandatory 'client_id' parameter is missing."}, 400)
        grant = form.get("grant_type")
        with self._lock:
            if grant == "password":
                if (form.get("username") != self.username or form.get("password") != self.password
                        or self.faults.settings.reject_credentials):
                    self.stats["failed_logins"] += 1
                    return _invalid_grant("Špatný login nebo heslo")
                self.stats["password_grants"] += 1
                return Response.json(self._issue())
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self._refresh:
                    self.stats["failed_logins"] += 1
                    return _invalid_grant("The specified token is invalid.")
                if self._refresh[token] >= REFRESH_REDEMPTIONS:
                    self.stats["failed_logins"] += 1
                    return _invalid_grant("The specified refresh token has already been redeemed.")
                self._refresh[token] += 1
                self.stats["refresh_grants"] += 1
                return Response.json(self._issue())
        return Response.json({"error": "invalid_request",
                              "error_description": "The mandatory 'grant_type' parameter is missing."}, 400)

    def _authed(self, handler):
        def wrapped(request: Request) -> Response:
            header = request.header("Authorization") or ""
            token = header[7:] if header.lower().startswith("bearer ") else ""
            with self._lock:
                expiry = self._access.get(token)
                ok = expiry is not None and expiry > time.monotonic()
                if ok:
                    self.stats["authorized_requests"] += 1
                    if self._expire_countdown is not None:
                        self._expire_countdown -= 1
                        if self._expire_countdown <= 0:
                            self._expire_countdown = None
                            self._access.clear()  # this request still succeeds
                else:
                    self.stats["unauthorized"] += 1
            if not ok:
                response = Response.json(UNAUTHORIZED, 401, {"WWW-Authenticate": EXPIRED_HEADER})
                response.fault_exempt = True
                return response
            return handler(request)

        return wrapped

    # -- data -----------------------------------------------------------------------------
    def _versions(self, request: Request) -> Response:
        return Response.json([{"ApiVersion": API_VERSION, "ApplicationVersion": APP_VERSION,
                               "BaseUrl": "api/3"}])

    def _version(self, request: Request) -> Response:
        return Response.json({"ApiVersion": API_VERSION, "ApplicationVersion": APP_VERSION,
                              "BaseUrl": "api/3"})

    def _user(self, request: Request) -> Response:
        return Response.json({
            "UserUID": "9999/UZBNM", "Class": None, "FullName": "Zástupce ředitele",
            "SchoolOrganizationName": "Základní škola Příkladová", "SchoolType": None,
            "UserType": "teacher", "UserTypeText": "učitel", "StudyYear": None,
            "EnabledModules": [{"Module": "Timetable", "Rights": ["ShowTimetable"]},
                               {"Module": "Subjects", "Rights": ["ShowSubjects"]},
                               {"Module": "Marks", "Rights": ["ShowMarks", "EditMarks"]}],
        })

    def _timetable(self, request: Request) -> Response:
        s = self.school
        days = {d: [] for d in range(1, 6)}
        # lay each class's lessons out over the week; split groups share the same hour
        by_class: dict[str, list[list]] = {}
        for t in s.teachings:
            group = s.groups.get(t.group_id)
            if group is None or group.class_id not in s.classes:
                continue
            slots = by_class.setdefault(group.class_id, [])
            key = (t.subject_id, t.lessons)
            for n in range(t.lessons):
                match = next((sl for sl in slots if sl[0] == key and sl[1] == n), None)
                if match is None:
                    slots.append([key, n, [t]])
                else:
                    match[2].append(t)
        for slots in by_class.values():
            for index, (_, _, teachings) in enumerate(slots[: 5 * len(HOURS)]):
                day, hour = index % 5 + 1, index // 5 + 2
                for t in teachings:
                    days[day].append({
                        "HourId": hour, "GroupIds": [t.group_id], "SubjectId": t.subject_id,
                        "TeacherId": t.teacher_id, "RoomId": t.room_id, "IsLastRoomLesson": False,
                        "CycleIds": [], "Change": None, "HomeworkIds": [], "Homeworks": [],
                        "Theme": "", "Assistants": [], "Notice": "", "LessonRelease": "NoChange"})
        used = [t for t in s.teachings if t.group_id in s.groups
                and s.groups[t.group_id].class_id in s.classes]
        subject_ids = {t.subject_id for t in used}
        teacher_ids = {t.teacher_id for t in used}
        room_ids = {t.room_id for t in used}
        groups = []
        for i, g in enumerate(s.groups.values()):
            item = {"ClassId": g.class_id, "Id": g.id, "Abbrev": g.abbrev, "Name": g.name}
            groups.append(item)
            if i % 3 == 0:
                groups.append(dict(item))  # the documented duplicates
        return Response.json({
            "Hours": [{"Id": i, "Caption": c, "BeginTime": b, "EndTime": e} for i, c, b, e in HOURS],
            "Days": [{"Atoms": atoms, "AssistanceAtoms": [], "DayOfWeek": d, "Date": "0001-01-01T00:00:00",
                      "DayDescription": "", "DayType": "WorkDay"} for d, atoms in days.items()],
            "Classes": [{"Id": c.id, "Abbrev": c.abbrev, "Name": c.name} for c in s.classes.values()],
            "Groups": groups,
            "Subjects": [{"Id": x.id, "Abbrev": x.abbrev, "Name": x.name}
                         for x in s.subjects.values() if x.id in subject_ids],
            "Teachers": [{"Id": x.id, "Abbrev": x.abbrev, "Name": x.name}
                         for x in s.teachers.values() if x.id in teacher_ids],
            "Rooms": [{"Id": x.id, "Abbrev": x.abbrev, "Name": x.name}
                      for x in s.rooms.values() if x.id in room_ids],
            "Cycles": [], "Students": [],
        })

    def _subjects(self, request: Request) -> Response:
        s = self.school
        first_teacher = {}
        for t in s.teachings:
            first_teacher.setdefault(t.subject_id, t.teacher_id)
        rows = []
        for subject in s.subjects.values():
            teacher = s.teachers.get(first_teacher.get(subject.id, ""))
            rows.append({
                "SubjectID": subject.id, "SubjectName": subject.name, "SubjectAbbrev": subject.abbrev,
                "TeacherID": teacher.id if teacher else "", "TeacherName": teacher.name if teacher else "",
                "TeacherAbbrev": teacher.abbrev if teacher else "",
                "TeacherEmail": teacher.email if teacher else "", "TeacherWeb": "",
                "TeacherSchoolPhone": None, "TeacherHomePhone": None, "TeacherMobilePhone": None})
        return Response.json({"Subjects": rows})

    def _connector(self, request: Request) -> Response:
        if self.connector is None:
            return Response.json({"Message": "No HTTP resource was found that matches the request URI."},
                                 404)
        expected = "Basic " + base64.b64encode(":".join(self.connector).encode()).decode()
        if request.header("Authorization") != expected or self.faults.settings.reject_credentials:
            with self._lock:
                self.stats["unauthorized"] += 1
            return Response(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="Bakalari"',
                                                    "Content-Type": "text/plain"}, fault_exempt=True)
        s, what = self.school, request.params["what"].lower()
        if what == "classes":
            items = [{"ID": c.id, "Abbrev": c.abbrev, "Name": c.name, "Deleted": False}
                     for c in s.classes.values()]
            return Response.json({"MessageType": "Common.Classes", "Classes": items})
        if what == "rooms":
            items = [{"ID": r.id, "Abbrev": r.abbrev, "Name": r.name, "Deleted": False}
                     for r in s.rooms.values()]
            return Response.json({"MessageType": "Common.Rooms", "Rooms": items})
        staff = []
        for t in s.teachers.values():
            title, first, last = t.name.split(" ", 2)
            staff.append({"ID": t.id, "FirstName": first, "LastName": last, "Title": title,
                          "Email": t.email, "Deleted": False})
        return Response.json({"MessageType": "Common.Staff", "Staff": staff})

    def _atom_name(self, t) -> str:
        group = self.school.groups[t.group_id]
        return f"{group.abbrev} {self.school.subjects[t.subject_id].abbrev.strip()}"

    def _atoms(self, request: Request) -> Response:
        s = self.school
        atoms = []
        for t in s.teachings:
            if t.group_id not in s.groups:
                continue
            subject = s.subjects[t.subject_id]
            atoms.append({"Id": t.atom_id, "Name": self._atom_name(t),
                          "Subject": {"Id": subject.id, "Abbrev": subject.abbrev, "Name": subject.name},
                          "Disabled": False, "DisabledText": None})
        return Response.json({"Atoms": atoms})

    def _marks(self, request: Request) -> Response:
        s = self.school
        atom_id = unquote(request.params["atom"])
        teaching = next((t for t in s.teachings if t.atom_id == atom_id), None)
        if teaching is None or teaching.group_id not in s.groups:
            return Response.json({"Message": "An error has occurred."}, 404)
        teacher = s.teachers.get(teaching.teacher_id)
        students = sorted(s.students_in_group(teaching.group_id), key=lambda x: x.registration_number)
        return Response.json({
            "MarkOptions": [{"Id": str(i), "Abbrev": str(i), "Name": str(i)} for i in range(1, 6)],
            "Marks": [],
            "Students": [{
                "Id": st.id, "ClassId": st.class_id, "DisplayName": st.display_name,
                "FirstName": st.first_name, "MiddleName": st.middle_name, "LastName": st.last_name,
                "RegistrationNumber": str(st.registration_number), "AverageText1": "",
                "AverageText2": "", "ReleasedOfSubject": False} for st in students],
            "Teachers": ([{"Id": teacher.id, "Abbrev": teacher.abbrev, "Name": teacher.name}]
                         if teacher else []),
        })
