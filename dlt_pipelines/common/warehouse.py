"""One place that decides which Postgres the project talks to, for dlt, dbt and the tests.

Resolution order:
1. ``WAREHOUSE_DSN`` (``postgresql://user:pass@host:port/db``);
2. the standard libpq variables when ``PGHOST`` is set (``PGPORT``, ``PGUSER``,
   ``PGPASSWORD``, ``PGDATABASE``);
3. otherwise the project's embedded Postgres, started on demand, as its superuser with
   the password from ``.local/pg/auth/postgres.password`` (docs/security.md).

Every password, from whichever source, is registered with the log redaction.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

import psycopg2

from . import embedded_pg
from .errors import ConfigError, OperatorError
from .logs import register_secret
from .settings import env


@dataclass(frozen=True)
class Warehouse:
    host: str
    port: int
    user: str
    password: str
    database: str
    origin: str  # "dsn", "env" or "embedded"

    @property
    def dsn(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    def describe(self) -> str:
        """Where the data goes, without the password."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database} ({self.origin})"

    def libpq_env(self) -> dict[str, str]:
        """Environment for dbt and psql: the same server, through the standard variables."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }


def _from_dsn(dsn: str) -> Warehouse:
    parsed = urlparse(dsn)
    if parsed.scheme not in ("postgres", "postgresql") or not parsed.hostname:
        raise ConfigError(
            "WAREHOUSE_DSN is not a Postgres URL.",
            "use the form postgresql://user:password@host:5432/database.",
        )
    return Warehouse(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=unquote(parsed.username or os.environ.get("USER", "postgres")),
        password=unquote(parsed.password or ""),
        database=unquote(parsed.path.lstrip("/") or "school_data"),
        origin="dsn",
    )


def resolve(start_embedded: bool = True, role: str | None = None) -> Warehouse:
    """Return the warehouse to use, starting the embedded server if nothing is configured.

    ``role`` (embedded default only) connects as one of the login roles ``db roles``
    created (``analyst``, ``pii_reader``, ...) instead of the superuser."""
    dsn = env("WAREHOUSE_DSN")
    if (dsn or env("PGHOST")) and role:
        raise OperatorError(
            f"Connecting as the {role} role only works on the embedded database; on a "
            "configured server the DBA gives you a login that holds it.",
            "set PGUSER/PGPASSWORD to that login instead of passing --role.",
        )
    if dsn:
        wh = _from_dsn(dsn)
        register_secret(wh.password)
        return wh
    if env("PGHOST"):
        port = env("PGPORT", "5432")
        if not port.isdigit():
            raise ConfigError(f"PGPORT must be a number, got {port!r}.", "set PGPORT=5432.")
        register_secret(env("PGPASSWORD"))
        return Warehouse(
            host=env("PGHOST"),
            port=int(port),
            user=env("PGUSER", os.environ.get("USER", "postgres")),
            password=env("PGPASSWORD", ""),
            database=env("PGDATABASE", "school_data"),
            origin="env",
        )
    srv = embedded_pg.server()
    settings = embedded_pg.start(srv) if start_embedded else None
    state = embedded_pg._read_state(srv)
    if not state:
        raise OperatorError("The embedded Postgres has never been started.", "run `make db-up`.")
    if role or settings is None:
        settings = embedded_pg.connection_settings(state, srv, role=role)
    return Warehouse(origin="embedded", **settings)


def connect(warehouse: Warehouse | None = None):
    """A psycopg2 connection, with a clear message when the server cannot be reached."""
    warehouse = warehouse or resolve()
    try:
        return psycopg2.connect(
            host=warehouse.host,
            port=warehouse.port,
            user=warehouse.user,
            password=warehouse.password,
            dbname=warehouse.database,
            connect_timeout=10,
            application_name="school-data-elt",
        )
    except psycopg2.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise OperatorError(
            f"Cannot connect to the warehouse at {warehouse.describe()}: {first_line}.",
            "check PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE or WAREHOUSE_DSN, "
            "or unset them to use the embedded database (`make db-up`).",
        ) from None


@contextlib.contextmanager
def cursor(warehouse: Warehouse | None = None):
    """Cursor in a transaction that commits on success and always closes the connection."""
    conn = connect(warehouse)
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def dlt_destination(warehouse: Warehouse | None = None):
    """A dlt Postgres destination bound to the resolved warehouse."""
    import dlt
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    warehouse = warehouse or resolve()
    # A resolved credentials object, so dlt never looks for (or reports) a missing secret
    # when a configured server has no password (e.g. peer or certificate authentication).
    credentials = PostgresCredentials()
    credentials.parse_native_representation(warehouse.dsn)
    credentials.password = warehouse.password
    credentials.resolve()
    return dlt.destinations.postgres(credentials=credentials)
