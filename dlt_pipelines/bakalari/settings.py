"""Settings for the Bakaláři roster sync: environment first, then dlt secrets/config.

Environment: ``BAKALARI_BASE_URL``, ``BAKALARI_USERNAME``, ``BAKALARI_PASSWORD`` (and the
optional ``BAKALARI_REQUESTS_PER_MINUTE``, ``BAKALARI_TIMEOUT_SECONDS``). dlt secrets:
``[sources.bakalari] base_url / username / password`` in ``.dlt/secrets.toml``.
Schools with the licensed Data Connector add ``BAKALARI_CONNECTOR_USERNAME`` and
``BAKALARI_CONNECTOR_PASSWORD`` (``connector_username`` / ``connector_password``).
The password and every token are registered with the log redactor and never printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.logs import register_secret
from dlt_pipelines.common.settings import env

PIPELINE_NAME = "bakalari"
DATASET_NAME = "raw_bakalari"
SOURCE = "bakalari"


def _dlt_secret(name: str) -> str | None:
    try:
        import dlt

        value = dlt.secrets.get(f"sources.bakalari.{name}")
    except Exception:  # no secrets file, or a provider that cannot answer
        return None
    return str(value) if value not in (None, "") else None


@dataclass
class BakalariSettings:
    base_url: str
    username: str
    password: str = field(repr=False)
    requests_per_minute: float | None = 300
    timeout_seconds: float = 30.0
    connector_username: str | None = None
    connector_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        register_secret(self.password)  # masked in every log line from now on
        register_secret(self.connector_password)

    @property
    def connector(self) -> bool:
        """Whether the school's Data Connector (HTTP Basic) is used as well."""
        return bool(self.connector_username and self.connector_password)

    @property
    def host(self) -> str:
        """The school's host, safe to log."""
        return urlparse(self.base_url).netloc

    @classmethod
    def resolve(cls, base_url: str | None = None, username: str | None = None,
                requests_per_minute: float | None = None) -> BakalariSettings:
        base_url = base_url or env("BAKALARI_BASE_URL") or _dlt_secret("base_url")
        username = username or env("BAKALARI_USERNAME") or _dlt_secret("username")
        password = env("BAKALARI_PASSWORD") or _dlt_secret("password")
        missing = [name for name, value in (("BAKALARI_BASE_URL", base_url),
                                            ("BAKALARI_USERNAME", username),
                                            ("BAKALARI_PASSWORD", password)) if not value]
        if missing:
            raise ConfigError(
                f"The Bakaláři connection is not configured: {', '.join(missing)} missing.",
                "set BAKALARI_BASE_URL, BAKALARI_USERNAME and BAKALARI_PASSWORD in the environment, "
                "or base_url/username/password under [sources.bakalari] in .dlt/secrets.toml.",
            )
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"BAKALARI_BASE_URL is not an http(s) URL: {base_url!r}.",
                "use the school's Bakaláři address, e.g. https://bakalari.skola.cz (with /bakaweb "
                "if the school has a path prefix), without /api/3.",
            )
        if requests_per_minute is None:
            raw = env("BAKALARI_REQUESTS_PER_MINUTE")
            if raw is not None:
                try:
                    requests_per_minute = float(raw)
                except ValueError:
                    raise ConfigError(f"BAKALARI_REQUESTS_PER_MINUTE must be a number, got {raw!r}.",
                                      "set it to e.g. 300, or 0 to turn the limit off.") from None
            else:
                requests_per_minute = 300
        timeout = env("BAKALARI_TIMEOUT_SECONDS", "30")
        try:
            timeout_seconds = float(timeout)
        except ValueError:
            raise ConfigError(f"BAKALARI_TIMEOUT_SECONDS must be a number, got {timeout!r}.",
                              "set it to e.g. 30.") from None
        connector_username = env("BAKALARI_CONNECTOR_USERNAME") or _dlt_secret("connector_username")
        connector_password = env("BAKALARI_CONNECTOR_PASSWORD") or _dlt_secret("connector_password")
        if bool(connector_username) != bool(connector_password):
            raise ConfigError(
                "Only one of BAKALARI_CONNECTOR_USERNAME and BAKALARI_CONNECTOR_PASSWORD is set.",
                "set both (from the school's Data Connector contract) or neither.",
            )
        return cls(base_url=base_url.rstrip("/"), username=username, password=password,
                   requests_per_minute=requests_per_minute or None, timeout_seconds=timeout_seconds,
                   connector_username=connector_username, connector_password=connector_password)


