"""Aeries API v5 client on top of the shared :class:`ResilientClient`.

It sends the certificate in the ``AERIES-CERT`` header (never in the URL, so it cannot leak
through a logged address), parses bodies with orjson, accepts a bare array or a single object,
pages with ``StartingRecord``/``EndingRecord`` until a short page, and turns the answers that
retrying cannot fix into one clear sentence: a rejected certificate (401/403), a base URL that
is not an Aeries API (404, a redirect, an HTML page), an endpoint the district switched off (501).

Attendance is the one route whose answer deletes data (an empty window empties the school's
dates), so it is strict: only a 200 with a JSON array counts. A 404, a 5xx or a malformed body
is retried and then raised as :class:`~dlt_pipelines.common.http.RetriesExhaustedError` for that
window, never turned into an empty answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime

import httpx
import orjson

from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.http import ResilientClient, RetryPolicy

from . import settings as cfg


class CertificateRejectedError(OperatorError):
    """Aeries refused the certificate (or it lacks a security area)."""


class WrongBaseUrlError(OperatorError):
    """The base URL does not lead to an Aeries API."""


def _check_not_html(response: httpx.Response) -> None:
    if "html" in response.headers.get("content-type", ""):
        raise WrongBaseUrlError(
            f"{response.request.url.copy_with(query=None)} answered with a web page, not the Aeries API.",
            "set AERIES_BASE_URL to everything before /api/v5 (e.g. https://yourdistrict.aeries.net/admin).",
        )


def _parse_json(response: httpx.Response) -> object:
    _check_not_html(response)
    return orjson.loads(response.content)


def as_records(payload: object) -> list[dict]:
    """Aeries returns arrays, but a few single-object routes answer with a bare object."""
    if payload is None:
        return []
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        return payload
    raise ValueError(f"expected a JSON array, got {type(payload).__name__}")


# A 404 on attendance is not "no attendance" (Aeries answers [] for that): retry it, then fail.
ATTENDANCE_RETRY_STATUSES = frozenset({404})


def _attendance_array(content: bytes) -> list:
    payload = orjson.loads(content)
    if not isinstance(payload, list):
        raise ValueError("attendance body is not a JSON array")
    return payload


def yyyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


class AeriesClient:
    def __init__(self, settings: cfg.AeriesSettings, *, database_year: int | None = None,
                 transport: httpx.BaseTransport | None = None, sleep=None):
        self.settings = settings
        self.database_year = database_year
        kwargs = {"sleep": sleep} if sleep is not None else {}
        self.http = ResilientClient(
            settings.base_url,
            headers={"Accept": "application/json", "AERIES-CERT": settings.cert,
                     "User-Agent": "school-data-elt/aeries"},
            timeout=settings.timeout_seconds,
            rate_limit_per_minute=settings.rate_limit_per_minute or None,
            policy=RetryPolicy(max_attempts=settings.max_attempts, base_delay=settings.backoff_base_seconds,
                               max_delay=settings.backoff_max_seconds,
                               breaker_threshold=settings.breaker_threshold),
            transport=transport, source="aeries", **kwargs,
        )

    # -- plumbing -----------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def retries(self) -> int:
        return self.http.retries

    @property
    def status_counts(self) -> dict[int, int]:
        return self.http.status_counts

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AeriesClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, path: str, params: dict | None = None, *, empty_on_404: bool = True,
            with_year: bool = True, parse_body: Callable[[bytes], object] | None = None,
            retry_statuses: frozenset[int] = frozenset()) -> object:
        """GET a route and return the parsed JSON (or ``parse_body(content)``); fatal statuses become
        OperatorErrors. A ValueError from parsing counts as a garbled body and is retried, as are
        ``retry_statuses``."""
        query = dict(params or {})
        if with_year and self.database_year is not None:
            query["DatabaseYear"] = str(self.database_year)
        parse = _parse_json
        if parse_body is not None:
            def parse(response: httpx.Response) -> object:
                _check_not_html(response)
                return parse_body(response.content)
        response, parsed = self.http.request("GET", path, params=query or None, parse=parse,
                                             retry_statuses=retry_statuses)
        status = response.status_code
        if response.is_success:
            return parsed
        route = path.split("?")[0]
        if status in (401, 403):
            raise CertificateRejectedError(
                f"Aeries rejected the certificate (HTTP {status} on {route}).",
                "check AERIES_CERT against Aeries' API Security page and that it is granted the security "
                "areas Attendance, Attendance History, Student Data, Absence Code Table and Calendar.",
            )
        if status == 404 and empty_on_404:
            return []
        if status == 404 or 300 <= status < 400:
            raise WrongBaseUrlError(
                f"{self.settings.base_url}{route} is not an Aeries API route (HTTP {status}).",
                "set AERIES_BASE_URL to everything before /api/v5 (e.g. https://yourdistrict.aeries.net/admin).",
            )
        if status == 501:
            raise OperatorError(
                f"The district's Aeries does not offer {route} (HTTP 501).",
                "ask the district to switch on the Aeries v5 API enhancements, or leave this resource out "
                "with --resources.",
            )
        raise OperatorError(
            f"Aeries refused {route} with HTTP {status}.",
            "check the school codes and dates passed to the run.",
        )

    # -- routes -------------------------------------------------------------------------
    def system_info(self) -> dict:
        """``/systeminfo`` needs no certificate: it proves the base URL reaches Aeries."""
        payload = self.get(cfg.SYSTEM_INFO, empty_on_404=False, with_year=False)
        if not isinstance(payload, dict) or not payload.get("AeriesVersion"):
            raise WrongBaseUrlError(
                f"{self.settings.base_url}{cfg.SYSTEM_INFO} did not answer like Aeries (no AeriesVersion).",
                "set AERIES_BASE_URL to everything before /api/v5 (e.g. https://yourdistrict.aeries.net/admin).",
            )
        return payload

    def server_date(self, info: dict | None = None) -> date | None:
        """The district's current date, from systeminfo's CurrentDateTime (local time)."""
        value = (info or self.system_info()).get("CurrentDateTime")
        if not isinstance(value, str) or len(value) < 10:
            return None
        try:
            return datetime.fromisoformat(value[:10]).date()
        except ValueError:
            return None

    def schools(self) -> list[dict]:
        return as_records(self.get(cfg.SCHOOLS, empty_on_404=False))

    def students(self, school_code: int) -> Iterator[list[dict]]:
        """Pages of the school's students; stops on a short or empty page."""
        size = self.settings.page_size
        start = 1
        while True:
            page = as_records(self.get(cfg.STUDENTS.format(school_code=school_code),
                                       {"StartingRecord": start, "EndingRecord": start + size - 1}))
            if page:
                yield page
            if len(page) != size:  # short page: done; a longer one means paging was ignored
                return
            start += size

    def enrollment(self, school_code: int, year: int) -> list[dict]:
        return as_records(self.get(cfg.ENROLLMENT.format(school_code=school_code, year=year)))

    def calendar(self, school_code: int) -> list[dict]:
        return as_records(self.get(cfg.CALENDAR.format(school_code=school_code)))

    def absence_codes(self, school_code: int) -> list[dict]:
        return as_records(self.get(cfg.ABSENCE_CODES.format(school_code=school_code)))

    def attendance(self, school_code: int, start: date, end: date,
                   parse_body: Callable[[bytes], object] | None = None) -> object:
        """Every student's attendance at the school for ``start``..``end`` (inclusive): a list of
        records, or whatever ``parse_body`` makes of the body. Only a 200 with a JSON array is an
        answer; a 404 is retried like a 5xx (see the module doc)."""
        payload = self.get(cfg.ATTENDANCE.format(school_code=school_code),
                           {"StartDate": yyyymmdd(start), "EndDate": yyyymmdd(end)},
                           parse_body=parse_body or _attendance_array, empty_on_404=False,
                           retry_statuses=ATTENDANCE_RETRY_STATUSES)
        return payload

    def history_summary(self, school_code: int, school_year: str) -> list[dict]:
        return as_records(self.get(cfg.HISTORY_SUMMARY.format(school_code=school_code,
                                                              school_year=school_year)))
