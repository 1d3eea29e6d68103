"""Bakaláři API v3 client: OAuth password/refresh grants and Bearer calls with retries.

Token flow (reference §2, docs/bakalari.md):

- the first call logs in with the password grant at ``POST /api/login`` (form-encoded,
  ``client_id=ANDR``);
- the access token is refreshed *before* it expires (``expires_in`` minus a margin) with the
  refresh grant, and once more *after* a 401 (the server may revoke early); both happen
  under one lock, and a 401 for a token that another caller already replaced just retries
  with the new one, so a refresh token is never redeemed twice by accident;
- every grant rotates the refresh token: only the latest one is kept;
- a refresh answered with ``invalid_grant`` (expired or redeemed) falls back to a password
  login; a password login answered with ``invalid_grant`` is an operator error.

Transient failures (dropped connections, 5xx, 429, garbled bodies) are retried with backoff
by :class:`ResilientClient`, for the login as well as for data calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.http import ResilientClient, RetryPolicy
from dlt_pipelines.common.logs import event, get_logger, register_secret

from .settings import BakalariSettings

CLIENT_ID = "ANDR"
LOGIN_PATH = "/api/login"
log = get_logger("bakalari")


class InvalidGrant(Exception):
    """The token endpoint answered 400 invalid_grant."""


class TokenManager:
    """Holds the current token pair; thread-safe; ``grant`` does the HTTP call.

    ``grant(form) -> dict`` returns the token response or raises :class:`InvalidGrant`.
    """

    def __init__(self, grant: Callable[[dict[str, str]], dict], username: str, password: str,
                 clock: Callable[[], float] = time.monotonic, margin_seconds: float = 30.0):
        self._grant = grant
        self._username = username
        self._password = password
        self._clock = clock
        self._margin = margin_seconds
        self._lock = threading.Lock()
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.expires_at = 0.0
        self.password_grants = 0
        self.refresh_grants = 0

    def _expiring(self) -> bool:
        return self.access_token is None or self._clock() >= self.expires_at

    def token(self) -> str:
        """A valid access token, renewed first if it expires within the margin."""
        with self._lock:
            if self._expiring():
                self._renew("expiring")
            return self.access_token  # type: ignore[return-value]

    def after_unauthorized(self, rejected: str) -> str:
        """The server refused ``rejected``: renew once, unless another caller already did."""
        with self._lock:
            if self.access_token == rejected or self.access_token is None:
                self._renew("unauthorized")
            return self.access_token  # type: ignore[return-value]

    def _renew(self, reason: str) -> None:
        if self.refresh_token:
            try:
                self._store(self._grant({"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                         "refresh_token": self.refresh_token}))
                self.refresh_grants += 1
                event(log, "token_refreshed", reason=reason)
                return
            except InvalidGrant:
                event(log, "refresh_token_rejected", reason=reason)
                self.refresh_token = None
        try:
            payload = self._grant({"client_id": CLIENT_ID, "grant_type": "password",
                                   "username": self._username, "password": self._password})
        except InvalidGrant:
            raise OperatorError(
                "Bakaláři rejected the username or password (invalid_grant).",
                "check BAKALARI_USERNAME and BAKALARI_PASSWORD (or [sources.bakalari] in "
                ".dlt/secrets.toml) by logging in to the school's Bakaláři web with them.",
            ) from None
        self._store(payload)
        self.password_grants += 1
        event(log, "token_issued", grant="password")

    def _store(self, payload: dict) -> None:
        try:
            access = payload["access_token"]
            expires_in = float(payload.get("expires_in") or 599)  # older servers: 599 s
        except (KeyError, TypeError, ValueError):
            raise OperatorError(
                "The Bakaláři login answer has no access token.",
                "check that BAKALARI_BASE_URL points at the school's Bakaláři server.",
            ) from None
        register_secret(access)
        self.access_token = access
        if payload.get("refresh_token"):  # rotated on every grant: keep only the newest
            register_secret(payload["refresh_token"])
            self.refresh_token = payload["refresh_token"]
        # renew a little before the server would refuse it
        margin = min(self._margin, expires_in / 4)
        self.expires_at = self._clock() + max(0.0, expires_in - margin)


class BearerAuth(httpx.Auth):
    """Adds the Bearer token; on a 401 renews once and resends the request."""

    def __init__(self, tokens: TokenManager):
        self.tokens = tokens
        self.unauthorized = 0

    def auth_flow(self, request: httpx.Request):
        token = self.tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.unauthorized += 1
            route = "/".join(request.url.path.split("/api/3/")[-1].split("/")[:2])
            event(log, "access_token_refused", route=route)
            token = self.tokens.after_unauthorized(token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


class BakalariClient:
    """The calls the roster sync needs, as parsed JSON."""

    def __init__(self, settings: BakalariSettings, *, transport: httpx.BaseTransport | None = None,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        common = dict(timeout=settings.timeout_seconds, rate_limit_per_minute=settings.requests_per_minute,
                      policy=policy, transport=transport, source="bakalari", sleep=sleep,
                      headers={"Accept": "application/json"})
        self._login_http = ResilientClient(settings.base_url, **common)
        self.tokens = TokenManager(self._grant, settings.username, settings.password, clock=clock)
        self.auth = BearerAuth(self.tokens)
        self.http = ResilientClient(settings.base_url, auth=self.auth, **common)

    def close(self) -> None:
        self.http.close()
        self._login_http.close()

    def __enter__(self) -> BakalariClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def requests(self) -> int:
        return self.http.requests + self._login_http.requests

    @property
    def retries(self) -> int:
        return self.http.retries + self._login_http.retries

    # -- auth -----------------------------------------------------------------------------
    def _grant(self, form: dict[str, str]) -> dict:
        response, parsed = self._login_http.request("POST", LOGIN_PATH, data=form, parse=_json)
        if response.is_success and isinstance(parsed, dict):
            return parsed
        if response.status_code == 400:
            body = _safe_json(response)
            error = body.get("error") if isinstance(body, dict) else None
            if error == "invalid_grant":
                raise InvalidGrant()
            raise OperatorError(
                f"The Bakaláři login was refused with {error or 'HTTP 400'}.",
                "check that BAKALARI_BASE_URL is the school's Bakaláři address (the sync sends "
                "client_id=ANDR as the mobile app does).",
            )
        raise OperatorError(
            f"No Bakaláři login at {self.settings.base_url}{LOGIN_PATH} (HTTP {response.status_code}).",
            "check BAKALARI_BASE_URL: it is the address of the school's Bakaláři web, with its path "
            "prefix if it has one (e.g. /bakaweb), without /api/3.",
        )

    # -- data -----------------------------------------------------------------------------
    def get(self, path: str) -> object:
        response, parsed = self.http.request("GET", path, parse=_json)
        if response.is_success:
            return parsed
        route = path.split("?")[0]
        if response.status_code == 401:
            raise OperatorError(
                f"Bakaláři refused a fresh access token for {route} (HTTP 401).",
                "check that the account may use the API, then rerun.",
            )
        if response.status_code == 403:
            raise OperatorError(
                f"The Bakaláři account may not read {route} (HTTP 403).",
                "use a teacher account with timetable and marking rights for the whole school "
                "(see docs/bakalari.md).",
            )
        if response.status_code == 404:
            raise OperatorError(
                f"Bakaláři has no {route} at {self.settings.base_url} (HTTP 404).",
                "check BAKALARI_BASE_URL (school address with its path prefix, without /api/3).",
            )
        raise OperatorError(f"Bakaláři answered HTTP {response.status_code} for {route}.",
                            "check the server's health, then rerun.")

    def timetable_permanent(self) -> dict:
        return self.get("/api/3/timetable/permanent")  # type: ignore[return-value]

    def subjects(self) -> dict:
        return self.get("/api/3/subjects")  # type: ignore[return-value]

    def marking_atoms(self) -> dict:
        return self.get("/api/3/marking/atoms")  # type: ignore[return-value]

    def marking_marks(self, atom_id: str) -> dict:
        return self.get(f"/api/3/marking/marks/{quote(atom_id, safe='')}")  # type: ignore[return-value]


class ConnectorClient:
    """The licensed Data Connector (``/if/2``): stateless HTTP Basic auth, JSON on request."""

    def __init__(self, settings: BakalariSettings, *, transport: httpx.BaseTransport | None = None,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.http = ResilientClient(
            settings.base_url, timeout=settings.timeout_seconds,
            rate_limit_per_minute=settings.requests_per_minute, policy=policy, transport=transport,
            source="bakalari", sleep=sleep, headers={"Accept": "application/json"},
            auth=httpx.BasicAuth(settings.connector_username or "", settings.connector_password or ""))

    def close(self) -> None:
        self.http.close()

    def common(self, what: str) -> dict:
        path = f"/if/2/common/{what}"
        response, parsed = self.http.request("GET", path, parse=_json)
        if response.is_success and isinstance(parsed, dict):
            return parsed
        if response.status_code in (401, 403):
            raise OperatorError(
                "The Bakaláři Data Connector refused the connector credentials "
                f"(HTTP {response.status_code}).",
                "check BAKALARI_CONNECTOR_USERNAME and BAKALARI_CONNECTOR_PASSWORD (from the Data "
                "Connector contract), or unset both to sync from API v3 only.",
            )
        if response.status_code == 404:
            raise OperatorError(
                f"The school has no Data Connector at {self.settings.base_url}/if/2 (HTTP 404).",
                "unset BAKALARI_CONNECTOR_USERNAME and BAKALARI_CONNECTOR_PASSWORD to sync from API v3 only.",
            )
        raise OperatorError(f"The Bakaláři Data Connector answered HTTP {response.status_code} for {path}.",
                            "check the server's health, then rerun.")


def _json(response: httpx.Response) -> object:
    return response.json()  # a garbled body raises ValueError: retried as transient


def _safe_json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
