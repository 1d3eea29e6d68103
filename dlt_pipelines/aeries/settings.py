"""Aeries settings: API routes, defaults, and the run configuration read from the environment
or dlt secrets (``sources.aeries.base_url`` / ``sources.aeries.cert``).

The certificate is registered for redaction the moment it is read, so it can never show in a
log line, an error message or the audit table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.logs import register_secret
from dlt_pipelines.common.settings import env

PIPELINE_NAME = "aeries"
DATASET_NAME = "raw_aeries"
SOURCE_NAME = "aeries"

# Routes below the tenant root (everything before /api/v5).
API_ROOT = "/api/v5"
SYSTEM_INFO = f"{API_ROOT}/systeminfo"
SCHOOLS = f"{API_ROOT}/schools"
STUDENTS = f"{API_ROOT}/schools/{{school_code}}/students"
ENROLLMENT = f"{API_ROOT}/schools/{{school_code}}/enrollment/0/year/{{year}}"
CALENDAR = f"{API_ROOT}/schools/{{school_code}}/calendar"
ABSENCE_CODES = f"{API_ROOT}/schools/{{school_code}}/AbsenceCodes"
ATTENDANCE = f"{API_ROOT}/schools/{{school_code}}/attendance"
HISTORY_SUMMARY = f"{API_ROOT}/schools/{{school_code}}/AttendanceHistory/summary/year/{{school_year}}"

# The 2024-2025 school year.
DEFAULT_START = date(2024, 8, 15)
DEFAULT_END = date(2025, 6, 12)
DEFAULT_CHUNK_DAYS = 30
DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_RATE_LIMIT = 60.0
DEFAULT_PAGE_SIZE = 1000
# Attendance windows extracted and loaded together; a crash loses at most one batch of downloads.
DEFAULT_WINDOWS_PER_LOAD = 8

# Every resource the source offers, in load order.
DIMENSION_RESOURCES = ("schools", "students", "enrollment", "calendar", "absence_codes",
                       "attendance_history_summary")
ATTENDANCE_RESOURCE = "attendance"
ALL_RESOURCES = (*DIMENSION_RESOURCES, ATTENDANCE_RESOURCE)

_CERT_RE = re.compile(r"^[A-Za-z0-9]{16,64}$")


@dataclass
class AeriesSettings:
    base_url: str
    cert: str = field(repr=False)
    rate_limit_per_minute: float = DEFAULT_RATE_LIMIT
    timeout_seconds: float = 60.0
    max_attempts: int = 6
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    breaker_threshold: int = 20
    page_size: int = DEFAULT_PAGE_SIZE
    windows_per_load: int = DEFAULT_WINDOWS_PER_LOAD

    def __repr__(self) -> str:  # never the certificate
        return f"AeriesSettings(base_url={self.base_url!r}, cert=***)"


def _dlt_secret(key: str) -> str | None:
    """A value from dlt's providers (.dlt/secrets.toml, SOURCES__AERIES__* variables)."""
    try:
        import dlt

        value = dlt.secrets.get(f"sources.aeries.{key}")
    except Exception:  # no dlt config at all is fine: the environment is the main way
        return None
    return str(value) if value not in (None, "") else None


def _number(name: str, default: float, minimum: float = 0.0) -> float:
    raw = env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}.", f"set {name} to a number.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}.", f"set {name} >= {minimum:g}.")
    return value


def load_settings(rate_limit: float | None = None) -> AeriesSettings:
    """Read the connection settings; a missing or malformed value is one clear sentence."""
    base_url = env("AERIES_BASE_URL") or _dlt_secret("base_url")
    cert = env("AERIES_CERT") or _dlt_secret("cert")
    register_secret(cert)
    if not base_url:
        raise ConfigError(
            "The Aeries base URL is not set.",
            "export AERIES_BASE_URL=https://yourdistrict.aeries.net/admin (everything before /api/v5), "
            "or set sources.aeries.base_url in .dlt/secrets.toml.",
        )
    base_url = base_url.strip().rstrip("/")
    if base_url.lower().endswith("/api/v5"):
        base_url = base_url[: -len("/api/v5")]
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(
            "AERIES_BASE_URL must start with http:// or https:// and name a host.",
            "use the district's Aeries address, e.g. https://yourdistrict.aeries.net/admin.",
        )
    if not cert:
        raise ConfigError(
            "The Aeries certificate is not set.",
            "export AERIES_CERT=<the 32-character certificate from Aeries' API Security page>, "
            "or set sources.aeries.cert in .dlt/secrets.toml.",
        )
    cert = cert.strip()
    if not _CERT_RE.match(cert):
        raise ConfigError(
            "The Aeries certificate does not look like one (expected 32 letters and digits).",
            "copy the certificate again from Aeries' API Security page into AERIES_CERT.",
        )
    return AeriesSettings(
        base_url=base_url,
        cert=cert,
        rate_limit_per_minute=rate_limit if rate_limit is not None
        else _number("AERIES_RATE_LIMIT", DEFAULT_RATE_LIMIT),
        timeout_seconds=_number("AERIES_TIMEOUT_SECONDS", 60.0, 1.0),
        max_attempts=int(_number("AERIES_MAX_ATTEMPTS", 6, 1)),
        backoff_base_seconds=_number("AERIES_BACKOFF_BASE_SECONDS", 0.5),
        backoff_max_seconds=_number("AERIES_BACKOFF_MAX_SECONDS", 30.0),
        breaker_threshold=int(_number("AERIES_BREAKER_THRESHOLD", 20, 1)),
        page_size=int(_number("AERIES_PAGE_SIZE", DEFAULT_PAGE_SIZE, 1)),
        windows_per_load=int(_number("AERIES_WINDOWS_PER_LOAD", DEFAULT_WINDOWS_PER_LOAD, 1)),
    )


def school_year_of(day: date) -> int:
    """The Aeries DatabaseYear (the year the school year starts) that holds ``day``."""
    return day.year if day.month >= 7 else day.year - 1
