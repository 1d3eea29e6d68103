"""Token logic of the Bakaláři client against an in-memory token server (httpx.MockTransport)."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import httpx
import pytest

from dlt_pipelines.bakalari.client import BakalariClient
from dlt_pipelines.bakalari.settings import BakalariSettings
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.http import RetryPolicy
from dlt_pipelines.common.logs import redact


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """Password and refresh grants with rotation; Bearer checks on /api/3/*."""

    def __init__(self, expires_in: int = 3599, password: str = "spravne-heslo"):
        self.expires_in = expires_in
        self.password = password
        self.grants: list[dict] = []
        self.valid_access: set[str] = set()
        self.valid_refresh: set[str] = set()
        self.reject_refresh = False
        self.always_401 = False
        self.data_calls: list[str] = []
        self._n = 0
        self._lock = threading.Lock()

    def issue(self) -> dict:
        self._n += 1
        access, refresh = f"access-{self._n}", f"refresh-{self._n}"
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                "expires_in": self.expires_in, "bak:UserId": "UZBNM"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if request.url.path == "/api/login":
                assert request.headers["content-type"] == "application/x-www-form-urlencoded"
                form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
                self.grants.append(form)
                assert form["client_id"] == "ANDR"
                if form["grant_type"] == "password":
                    if form["password"] != self.password:
                        return httpx.Response(400, json={"error": "invalid_grant",
                                                         "error_description": "Špatný login nebo heslo"})
                    return httpx.Response(200, json=self.issue())
                token = form["refresh_token"]
                if self.reject_refresh or token not in self.valid_refresh:
                    return httpx.Response(400, json={"error": "invalid_grant",
                                                     "error_description": "The specified token is invalid."})
                self.valid_refresh.discard(token)
                return httpx.Response(200, json=self.issue())
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            self.data_calls.append(token)
            if self.always_401 or token not in self.valid_access:
                return httpx.Response(401, json={"Message": "Authorization has been denied."})
            return httpx.Response(200, json={"Subjects": []})


def make_client(server: TokenServer, clock: FakeClock | None = None,
                password: str = "spravne-heslo") -> BakalariClient:
    settings = BakalariSettings(base_url="https://bakalari.example.invalid", username="zastupce",
                                password=password, requests_per_minute=None)
    return BakalariClient(settings, transport=httpx.MockTransport(server), clock=clock or FakeClock(),
                          policy=RetryPolicy(base_delay=0.0, max_delay=0.0), sleep=lambda s: None)


def grant_types(server: TokenServer) -> list[str]:
    return [g["grant_type"] for g in server.grants]


def test_password_grant_once_then_bearer_on_every_call():
    server = TokenServer()
    client = make_client(server)
    client.subjects()
    client.subjects()
    assert grant_types(server) == ["password"]
    assert server.grants[0]["username"] == "zastupce"
    assert server.data_calls == ["access-1", "access-1"]


def test_refreshes_before_expiry_and_keeps_the_rotated_refresh_token():
    server, clock = TokenServer(expires_in=600), FakeClock()
    client = make_client(server, clock)
    client.subjects()
    clock.now += 500  # still valid: no refresh
    client.subjects()
    assert grant_types(server) == ["password"]
    clock.now += 80  # within the margin before expiry: refresh first
    client.subjects()
    assert grant_types(server) == ["password", "refresh_token"]
    assert server.grants[1]["refresh_token"] == "refresh-1"
    clock.now += 590
    client.subjects()
    # the second refresh uses the token rotated in by the first one
    assert server.grants[2]["refresh_token"] == "refresh-2"
    assert server.data_calls[-1] == "access-3"
    assert client.tokens.refresh_grants == 2 and client.tokens.password_grants == 1


def test_a_401_refreshes_once_and_retries():
    server = TokenServer()
    client = make_client(server)
    client.subjects()
    server.valid_access.clear()  # the server revokes tokens before their expiry
    assert client.subjects() == {"Subjects": []}
    assert grant_types(server) == ["password", "refresh_token"]
    assert server.data_calls == ["access-1", "access-1", "access-2"]
    assert client.auth.unauthorized == 1


def test_a_second_401_is_a_clear_error_not_a_loop():
    server = TokenServer()
    client = make_client(server)
    server.always_401 = True
    with pytest.raises(OperatorError, match="refused a fresh access token"):
        client.subjects()
    assert grant_types(server) == ["password", "refresh_token"]
    assert len(server.data_calls) == 2


def test_rejected_refresh_token_falls_back_to_the_password():
    server, clock = TokenServer(expires_in=600), FakeClock()
    client = make_client(server, clock)
    client.subjects()
    server.reject_refresh = True
    clock.now += 599
    client.subjects()
    assert grant_types(server) == ["password", "refresh_token", "password"]
    assert server.data_calls[-1] == "access-2"


def test_wrong_password_fails_fast_with_the_fix_and_without_the_secret():
    server = TokenServer()
    client = make_client(server, password="spatne-heslo")
    with pytest.raises(OperatorError) as caught:
        client.subjects()
    assert "rejected the username or password" in caught.value.message
    assert "BAKALARI_PASSWORD" in caught.value.fix
    assert "spatne-heslo" not in str(caught.value)
    assert len(server.grants) == 1 and server.data_calls == []  # no retries, no data calls
    assert redact("x spatne-heslo y") == "x *** y"  # the password is masked in any log line


def test_tokens_are_masked_in_logs():
    server = TokenServer()
    client = make_client(server)
    client.subjects()
    assert "refresh-1" not in redact("refresh_token=refresh-1")
    assert client.tokens.refresh_token == "refresh-1"


def test_parallel_401s_redeem_the_refresh_token_only_once():
    server = TokenServer()
    client = make_client(server)
    client.subjects()
    server.valid_access.clear()
    errors: list[Exception] = []

    def call():
        try:
            client.subjects()
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert grant_types(server).count("refresh_token") == 1


def test_transient_login_failure_is_retried():
    server = TokenServer()
    failures = iter([httpx.ConnectError("reset"), httpx.Response(503, json={"Message": "busy"})])

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/login":
            nxt = next(failures, None)
            if isinstance(nxt, Exception):
                raise nxt
            if nxt is not None:
                return nxt
        return server(request)

    settings = BakalariSettings(base_url="https://bakalari.example.invalid", username="zastupce",
                                password="spravne-heslo", requests_per_minute=None)
    client = BakalariClient(settings, transport=httpx.MockTransport(flaky),
                            policy=RetryPolicy(base_delay=0.0, max_delay=0.0), sleep=lambda s: None)
    assert client.subjects() == {"Subjects": []}
    assert client.retries == 2


def test_missing_expires_in_falls_back_to_the_old_servers_lifetime():
    server, clock = TokenServer(), FakeClock()
    server.expires_in = None
    client = make_client(server, clock)
    client.subjects()
    clock.now += 60
    client.subjects()
    assert grant_types(server) == ["password"]  # not renewed before every call
    clock.now += 600
    client.subjects()
    assert grant_types(server) == ["password", "refresh_token"]
