"""The Aeries client against httpx's mock transport: headers, shapes, paging, retries, and the
answers that must stop a run at once with one clear sentence."""

from __future__ import annotations

from datetime import date

import httpx
import orjson
import pytest

from dlt_pipelines.aeries.client import AeriesClient, CertificateRejectedError, WrongBaseUrlError, as_records
from dlt_pipelines.aeries.settings import AeriesSettings, load_settings
from dlt_pipelines.common.errors import ConfigError, OperatorError
from dlt_pipelines.common.http import CircuitOpenError

CERT = "0123456789abcdef0123456789abcdef"
BASE = "https://district.example.org/admin"


def make_client(handler, *, sleeps: list | None = None, **overrides) -> AeriesClient:
    options = {"rate_limit_per_minute": 0, "max_attempts": 4, "backoff_base_seconds": 0.01,
               "backoff_max_seconds": 0.05, **overrides}
    settings = AeriesSettings(base_url=BASE, cert=CERT, **options)
    record = sleeps if sleeps is not None else []
    return AeriesClient(settings, database_year=2024, transport=httpx.MockTransport(handler),
                        sleep=record.append)


def json_response(payload, status=200, headers=None):
    return httpx.Response(status, content=orjson.dumps(payload),
                          headers={"Content-Type": "application/json", **(headers or {})})


def test_sends_certificate_header_and_database_year_never_the_cert_in_the_url():
    seen = []

    def handler(request: httpx.Request):
        seen.append(request)
        return json_response([{"SchoolCode": 101}])

    with make_client(handler) as client:
        assert client.schools() == [{"SchoolCode": 101}]
    request = seen[0]
    assert request.headers["AERIES-CERT"] == CERT
    assert request.headers["Accept"] == "application/json"
    assert request.url.path == "/admin/api/v5/schools"
    assert request.url.params["DatabaseYear"] == "2024"
    assert CERT not in str(request.url)


def test_single_object_answers_become_one_item_lists():
    assert as_records({"SchoolCode": 994}) == [{"SchoolCode": 994}]
    assert as_records(None) == []
    with pytest.raises(ValueError):
        as_records("nope")


def test_students_page_with_starting_and_ending_record_until_a_short_page():
    students = [{"StudentID": i, "SchoolCode": 101} for i in range(1, 8)]
    asked = []

    def handler(request: httpx.Request):
        first = int(request.url.params["StartingRecord"])
        last = int(request.url.params["EndingRecord"])
        asked.append((first, last))
        return json_response(students[first - 1:last])

    with make_client(handler, page_size=3) as client:
        pages = list(client.students(101))
    assert asked == [(1, 3), (4, 6), (7, 9)]
    assert [s["StudentID"] for page in pages for s in page] == list(range(1, 8))


def test_exact_multiple_of_the_page_size_ends_on_an_empty_page():
    students = [{"StudentID": i} for i in range(1, 7)]

    def handler(request: httpx.Request):
        first = int(request.url.params["StartingRecord"])
        return json_response(students[first - 1:first + 2])

    with make_client(handler, page_size=3) as client:
        assert sum(len(p) for p in client.students(101)) == 6
        assert client.requests == 3


def test_attendance_dates_are_yyyymmdd_across_a_year_boundary():
    seen = []

    def handler(request: httpx.Request):
        seen.append(request.url)
        return json_response([])

    with make_client(handler) as client:
        client.attendance(101, date(2024, 12, 31), date(2025, 1, 1))
    assert seen[0].path == "/admin/api/v5/schools/101/attendance"
    assert seen[0].params["StartDate"] == "20241231"
    assert seen[0].params["EndDate"] == "20250101"


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_certificate_stops_at_once_without_showing_it(status):
    calls = []

    def handler(request):
        calls.append(1)
        return json_response({"Message": f"The certificate {CERT} is not valid."}, status)

    with make_client(handler) as client, pytest.raises(CertificateRejectedError) as err:
        client.schools()
    assert len(calls) == 1  # no retries on a fatal answer
    assert "rejected the certificate" in err.value.message
    assert CERT not in str(err.value)
    assert err.value.fix and "AERIES_CERT" in err.value.fix


def test_systeminfo_404_means_the_base_url_is_wrong():
    with make_client(lambda r: json_response({"Message": "No HTTP resource"}, 404)) as client, \
            pytest.raises(WrongBaseUrlError) as err:
        client.system_info()
    assert "is not an Aeries API route" in err.value.message


def test_a_login_page_instead_of_json_is_a_wrong_base_url_not_a_retry():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(200, text="<html>login</html>", headers={"Content-Type": "text/html"})

    with make_client(handler) as client, pytest.raises(WrongBaseUrlError):
        client.system_info()
    assert len(calls) == 1


def test_redirect_is_a_wrong_base_url():
    handler = lambda r: httpx.Response(302, headers={"Location": "https://elsewhere/login"})  # noqa: E731
    with make_client(handler) as client, pytest.raises(WrongBaseUrlError):
        client.schools()


def test_404_on_a_per_school_list_is_an_empty_list():
    with make_client(lambda r: json_response({"Message": "none"}, 404)) as client:
        assert client.absence_codes(101) == []


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after():
    answers = iter([json_response({"Message": "slow down"}, 429, {"Retry-After": "2"}),
                    json_response({"Message": "oops"}, 503),
                    json_response([{"SchoolCode": 1}])])
    sleeps: list[float] = []
    with make_client(lambda r: next(answers), sleeps=sleeps, backoff_max_seconds=5) as client:
        assert client.schools() == [{"SchoolCode": 1}]
        assert client.requests == 3
        assert client.retries == 2
    assert sleeps[0] >= 2  # Retry-After honoured
    assert len(sleeps) == 2


def test_truncated_body_is_retried():
    truncated = httpx.Response(200, content=b"[{\"SchoolCode\": 1",
                               headers={"Content-Type": "application/json"})
    answers = iter([truncated,
                    json_response([{"SchoolCode": 1}])])
    with make_client(lambda r: next(answers)) as client:
        assert client.schools() == [{"SchoolCode": 1}]
        assert client.retries == 1


def test_persistent_5xx_gives_up_with_a_clear_error():
    with make_client(lambda r: json_response({"Message": "down"}, 500)) as client, \
            pytest.raises(CircuitOpenError) as err:
        client.schools()
    assert "after 4 attempts" in err.value.message


def test_dropped_connections_are_retried():
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return json_response([{"SchoolCode": 7}])

    with make_client(handler) as client:
        assert client.schools() == [{"SchoolCode": 7}]


def test_501_says_the_endpoint_is_switched_off():
    with make_client(lambda r: json_response({"Message": "Not Implemented"}, 501)) as client, \
            pytest.raises(OperatorError) as err:
        client.history_summary(101, "2024-2025")
    assert "HTTP 501" in err.value.message


def test_server_date_comes_from_systeminfo():
    info = {"AeriesVersion": "10", "CurrentDateTime": "2024-10-01T06:30:00.0000000-07:00"}
    with make_client(lambda r: json_response(info)) as client:
        assert client.server_date(client.system_info()) == date(2024, 10, 1)


def test_settings_from_environment_and_their_errors(monkeypatch):
    for key in ("AERIES_BASE_URL", "AERIES_CERT", "SOURCES__AERIES__BASE_URL", "SOURCES__AERIES__CERT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="base URL is not set"):
        load_settings()
    monkeypatch.setenv("AERIES_BASE_URL", "district.example.org")
    monkeypatch.setenv("AERIES_CERT", CERT)
    with pytest.raises(ConfigError, match="must start with http"):
        load_settings()
    monkeypatch.setenv("AERIES_BASE_URL", BASE + "/api/v5/")
    monkeypatch.setenv("AERIES_CERT", "short!")
    with pytest.raises(ConfigError, match="does not look like one") as err:
        load_settings()
    assert "short!" not in str(err.value)
    monkeypatch.setenv("AERIES_CERT", CERT)
    monkeypatch.setenv("AERIES_RATE_LIMIT", "0")
    settings = load_settings()
    assert settings.base_url == BASE
    assert settings.rate_limit_per_minute == 0
    assert CERT not in repr(settings)
    monkeypatch.setenv("AERIES_RATE_LIMIT", "fast")
    with pytest.raises(ConfigError, match="AERIES_RATE_LIMIT must be a number"):
        load_settings()


def test_certificate_from_dlt_secrets_provider(monkeypatch):
    monkeypatch.delenv("AERIES_BASE_URL", raising=False)
    monkeypatch.delenv("AERIES_CERT", raising=False)
    monkeypatch.setenv("SOURCES__AERIES__BASE_URL", BASE)
    monkeypatch.setenv("SOURCES__AERIES__CERT", CERT)
    settings = load_settings()
    assert (settings.base_url, settings.cert) == (BASE, CERT)


def test_rate_limit_spaces_requests_and_zero_turns_it_off():
    sleeps: list[float] = []
    with make_client(lambda r: json_response([]), sleeps=sleeps, rate_limit_per_minute=60) as client:
        for _ in range(3):
            client.calendar(101)
    assert len(sleeps) == 2 and 0.9 < sleeps[0] <= 1.0 and 1.9 < sleeps[1] <= 2.0
    sleeps.clear()
    with make_client(lambda r: json_response([]), sleeps=sleeps, rate_limit_per_minute=0) as client:
        for _ in range(3):
            client.calendar(101)
    assert sleeps == []


def test_unknown_host_stops_at_once_with_the_fix():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    with make_client(handler) as client, pytest.raises(OperatorError) as err:
        client.system_info()
    assert len(calls) == 1
    assert "could not be found" in err.value.message and "base URL" in err.value.fix


# -- attendance: the one route whose answer deletes data -------------------------------------

@pytest.mark.parametrize("answer", [
    json_response({"Message": "No HTTP resource was found."}, 404),
    json_response({"Message": "An error has occurred."}, 503),
    httpx.Response(200, content=b'[{"StudentID": 1, "AttendanceDays": [{"Calend',
                   headers={"Content-Type": "application/json"}),
    httpx.Response(200, content=b"", headers={"Content-Type": "application/json"}),
    json_response({"Message": "not a list"}),
], ids=["404", "503", "truncated", "empty-bytes", "object"])
def test_attendance_never_reads_a_failed_answer_as_empty(answer):
    from dlt_pipelines.aeries.attendance import parse_body
    from dlt_pipelines.common.http import RetriesExhaustedError

    calls = []

    def handler(request):
        calls.append(request)
        return answer

    for parse in (None, parse_body):
        calls.clear()
        with make_client(handler) as client, pytest.raises(RetriesExhaustedError) as err:
            client.attendance(101, date(2024, 9, 2), date(2024, 9, 6), parse_body=parse)
        assert len(calls) == 4, "retried up to max_attempts, then failed"
        assert err.value.reason


def test_attendance_200_with_an_empty_array_is_an_empty_window():
    from dlt_pipelines.aeries.attendance import parse_body

    with make_client(lambda r: json_response([])) as client:
        assert client.attendance(101, date(2024, 9, 2), date(2024, 9, 6)) == []
        body = client.attendance(101, date(2024, 9, 2), date(2024, 9, 6), parse_body=parse_body)
        assert body.nested is not None and body.nested.num_rows == 0


def test_attendance_404_then_200_is_retried_into_the_answer():
    answers = iter([json_response({"Message": "none"}, 404), json_response([{"StudentID": 7}])])
    with make_client(lambda r: next(answers)) as client:
        assert client.attendance(101, date(2024, 9, 2), date(2024, 9, 6)) == [{"StudentID": 7}]
        assert client.retries == 1
