"""Which login the dashboards use (docs/dashboards.md, "Connection").

The app reads the marts as ``analyst``, never as the superuser or a pipeline login:

1. ``DASHBOARD_DSN`` (``postgresql://ana:...@db.district.org/warehouse``), a login holding
   ``analyst``, when set;
2. otherwise, on a configured server (``WAREHOUSE_DSN`` or ``PGHOST``), that connection: the
   DBA gives the person who runs the dashboards a login that holds ``analyst``;
3. otherwise the embedded database's ``analyst`` login (``warehouse.resolve(role="analyst")``).

The names page is there only when configured: ``DASHBOARD_PII_DSN`` (a login holding
``pii_reader``), or ``DASHBOARD_PII=1`` on the embedded database (its ``pii_reader`` login).
Every statement ``pii_reader`` runs is written to the server log (docs/security.md).
"""

from __future__ import annotations

from dlt_pipelines.common import roles, warehouse
from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.logs import register_secret
from dlt_pipelines.common.settings import env

MARTS = "marts"
RESTRICTED = "restricted"


def _configured_server() -> bool:
    return bool(env("WAREHOUSE_DSN") or env("PGHOST"))


def _from_dsn(name: str) -> warehouse.Warehouse:
    try:
        wh = warehouse._from_dsn(env(name))
    except ConfigError:
        raise ConfigError(f"{name} is not a Postgres URL.",
                          f"set {name}=postgresql://user:password@host:5432/database.") from None
    register_secret(wh.password)
    return wh


def analyst() -> warehouse.Warehouse:
    """The login the dashboards read the marts with."""
    if env("DASHBOARD_DSN"):
        return _from_dsn("DASHBOARD_DSN")
    if _configured_server():
        return warehouse.resolve()
    return warehouse.resolve(role=roles.ANALYST)


def pii_enabled() -> bool:
    return bool(env("DASHBOARD_PII_DSN")) or env("DASHBOARD_PII", "") in ("1", "true", "yes")


def pii_reader() -> warehouse.Warehouse:
    """The login of the names page (only when :func:`pii_enabled`)."""
    if env("DASHBOARD_PII_DSN"):
        return _from_dsn("DASHBOARD_PII_DSN")
    if _configured_server():
        raise ConfigError("DASHBOARD_PII=1 names the embedded pii_reader login, but a server is configured.",
                          "set DASHBOARD_PII_DSN to a login that holds pii_reader.")
    return warehouse.resolve(role=roles.PII_READER)
