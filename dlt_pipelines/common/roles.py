"""Least-privilege roles for the warehouse, created idempotently (docs/security.md).

``python -m dlt_pipelines db roles`` (``make db-roles``) runs :func:`setup` against the
resolved warehouse. It needs a connection with CREATEROLE and ownership of (or grant
rights on) the warehouse database and its schemas; a superuser can do everything,
including the access audit. Every statement is safe to repeat.

- ``loader``      writes the ``raw_*`` schemas and ``ops`` (the dlt pipelines);
- ``transformer`` reads ``raw_*`` and ``ops`` and creates/writes the dbt schemas
  (staging, intermediate, marts, snapshots, reference, audit, restricted);
- ``analyst``     reads the ``marts`` schema (no personal data) and nothing else;
- ``pii_reader``  is an ``analyst`` that also reads ``restricted``; every statement of a
  login that holds it is written to the server log with user and time.

On a DBA's server the roles are NOLOGIN groups: grant them to login users. On the
embedded default they are also LOGIN roles with generated passwords kept next to the
superuser's (``.local/pg/auth/<role>.password``, 0600).

Table-level SELECT grants on the marts are declared in ``dbt_project.yml`` (``+grants``)
so every build re-applies them; this module covers what dbt cannot: the roles, database
and schema privileges, default privileges for tables created later, and the audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from . import warehouse as wh
from .errors import OperatorError

LOADER, TRANSFORMER, ANALYST, PII_READER = "loader", "transformer", "analyst", "pii_reader"
ROLES = (LOADER, TRANSFORMER, ANALYST, PII_READER)
# Schemas the pipelines write; any other existing raw_* source schema is found and added.
RAW_SCHEMAS = ("raw_aeries", "raw_iready", "raw_bakalari")
OPS_SCHEMA = "ops"
# Schemas dbt builds (macros/generate_schema_name.sql uses custom schema names as-is).
TRANSFORM_SCHEMAS = ("staging", "intermediate", "marts", "snapshots", "reference", "audit",
                     "restricted", "analytics")
# Who reads which dbt schema; dbt_project.yml's +grants name the same roles.
READERS = {"marts": ANALYST, "restricted": PII_READER}


@dataclass
class Report:
    database: str = ""
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"roles created: {', '.join(self.created) or 'none'}; "
               f"already there: {', '.join(self.existing) or 'none'}",
               f"privileges applied in database {self.database}: loader -> raw_*, ops; "
               "transformer -> raw_*, ops (read), dbt schemas (create); analyst -> marts; "
               "pii_reader -> marts, restricted",
               f"access audit (log_statement=all): {', '.join(self.audited) or 'not set'}"]
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _exec(cur, statement, params=None) -> None:
    cur.execute(statement, params)


def _try(cur, report: Report, what: str, statement, fix: str) -> bool:
    """Run an optional statement; a missing right becomes a warning with its fix."""
    try:
        cur.execute(statement)
        return True
    except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.FeatureNotSupported):
        report.warnings.append(f"{what}: not allowed for this connection, skipped; fix: {fix}")
        return False


def ensure_roles(cur, report: Report, passwords: dict[str, str] | None = None) -> None:
    """The four roles (LOGIN with these SCRAM verifiers when given), pii_reader in analyst,
    and the statement audit on every login that holds pii_reader."""
    from .embedded_pg import scram_verifier

    cur.execute("select rolname from pg_roles where rolname = any(%s)", (list(ROLES),))
    present = {row[0] for row in cur.fetchall()}
    for role in ROLES:
        login = sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(scram_verifier(passwords[role]))) \
            if passwords and role in passwords else sql.SQL("NOLOGIN")
        if role in present:
            report.existing.append(role)
            if passwords and role in passwords:
                _exec(cur, sql.SQL("ALTER ROLE {} ").format(_ident(role)) + login)
        else:
            try:
                _exec(cur, sql.SQL("CREATE ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE ")
                      .format(_ident(role)) + login)
            except psycopg2.errors.DuplicateObject:  # created meanwhile by a concurrent run
                pass
            except psycopg2.errors.InsufficientPrivilege:
                raise OperatorError(
                    f"This connection may not create the role {role}.",
                    "run `python -m dlt_pipelines db roles` as a superuser or a user with "
                    "CREATEROLE (set PGUSER/PGPASSWORD or WAREHOUSE_DSN for it).",
                ) from None
            report.created.append(role)
    cur.execute("select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid"
                " join pg_roles u on u.oid = m.member where r.rolname = %s and u.rolname = %s",
                (ANALYST, PII_READER))
    if cur.fetchone() is None:
        _exec(cur, sql.SQL("GRANT {} TO {}").format(_ident(ANALYST), _ident(PII_READER)))
    _audit_pii_readers(cur, report)


def _audit_pii_readers(cur, report: Report) -> None:
    """log_statement = all for pii_reader and every login role that holds it (role-level
    settings apply to the role one logs in as, not to roles one is a member of)."""
    cur.execute("select rolsuper from pg_roles where rolname = current_user")
    if not cur.fetchone()[0]:
        report.warnings.append("the pii_reader access audit (log_statement) needs a superuser; "
                               "ask one to run `python -m dlt_pipelines db roles`")
        return
    cur.execute("""
        with recursive members(oid) as (
            select oid from pg_roles where rolname = %s
            union
            select m.member from pg_auth_members m join members on m.roleid = members.oid
        )
        select r.rolname from pg_roles r join members using (oid)
        where r.rolname = %s or r.rolcanlogin
        order by 1""", (PII_READER, PII_READER))
    for (role,) in cur.fetchall():
        _exec(cur, sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(_ident(role)))
        report.audited.append(role)


def _schemas(cur) -> tuple[list[str], list[str]]:
    """(raw source schemas, dlt's raw_*_staging schemas) present in the database, plus the
    known sources."""
    cur.execute("select nspname from pg_namespace where nspname like 'raw\\_%%'")
    found = {row[0] for row in cur.fetchall()}
    raw = sorted(set(RAW_SCHEMAS) | {s for s in found if not s.endswith("_staging")})
    staging = sorted(s for s in found if s.endswith("_staging"))
    return raw, staging


def grant_database(cur, report: Report) -> None:
    cur.execute("select current_database(), current_user")
    database, me = cur.fetchone()
    report.database = database
    db = _ident(database)
    roles = [_ident(r) for r in ROLES]
    everyone = sql.SQL(", ").join(roles)
    writers = sql.SQL(", ").join([_ident(LOADER), _ident(TRANSFORMER)])
    try:
        # Nobody connects unless given a role (PUBLIC can connect to a new database).
        _exec(cur, sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
        _exec(cur, sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, everyone))
        _exec(cur, sql.SQL("GRANT CREATE, TEMPORARY ON DATABASE {} TO {}").format(db, writers))
    except psycopg2.errors.InsufficientPrivilege:
        raise OperatorError(
            f"This connection may not grant privileges on the database {database}.",
            "run `python -m dlt_pipelines db roles` as the database owner or a superuser.",
        ) from None

    raw, dlt_staging = _schemas(cur)
    load_schemas = [*raw, OPS_SCHEMA]
    for schema in [*load_schemas, *TRANSFORM_SCHEMAS]:
        _exec(cur, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(_ident(schema)))

    def on_schema(privileges: str, schema: str, role: str) -> None:
        _exec(cur, sql.SQL("GRANT " + privileges + " ON SCHEMA {} TO {}").format(
            _ident(schema), _ident(role)))

    def on_tables(privileges: str, schema: str, role: str) -> None:
        _exec(cur, sql.SQL("GRANT " + privileges + " ON ALL TABLES IN SCHEMA {} TO {}").format(
            _ident(schema), _ident(role)))

    def by_default(owner: str, schema: str, privileges: str, role: str) -> None:
        statement = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT "
                            + privileges + " ON TABLES TO {}").format(
            _ident(owner), _ident(schema), _ident(role))
        if owner == me:
            _exec(cur, statement)
        else:
            _try(cur, report, f"default privileges for tables {owner} creates in {schema}",
                 statement, f"`GRANT {owner} TO {me};` (or connect as a superuser), then rerun")

    # loader: the raw schemas, dlt's staging copies and ops, including what exists already.
    for schema in [*load_schemas, *dlt_staging]:
        on_schema("USAGE, CREATE", schema, LOADER)
        on_tables("ALL", schema, LOADER)
        _exec(cur, sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}")
              .format(_ident(schema), _ident(LOADER)))
    # transformer: reads what loader lands (not dlt's staging copies) ...
    for schema in load_schemas:
        on_schema("USAGE", schema, TRANSFORMER)
        on_tables("SELECT", schema, TRANSFORMER)
        for owner in dict.fromkeys([me, LOADER]):
            by_default(owner, schema, "SELECT", TRANSFORMER)
    # ... and builds the dbt schemas (it owns the tables it creates there).
    for schema in TRANSFORM_SCHEMAS:
        on_schema("USAGE, CREATE", schema, TRANSFORMER)
    # analyst / pii_reader: read their schema, today and for every table created later.
    for schema, role in READERS.items():
        on_schema("USAGE", schema, role)
        on_tables("SELECT", schema, role)
        for owner in dict.fromkeys([me, TRANSFORMER]):
            by_default(owner, schema, "SELECT", role)
    # Least privilege, also for a database someone granted by hand before.
    allowed = {ANALYST: {"marts"}, PII_READER: {"marts", "restricted"}}
    for schema in [*load_schemas, *dlt_staging, *TRANSFORM_SCHEMAS]:
        for role in (ANALYST, PII_READER):
            if schema in allowed[role]:
                continue
            _exec(cur, sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(_ident(schema), _ident(role)))
            _exec(cur, sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(
                _ident(schema), _ident(role)))


def setup(warehouse: wh.Warehouse | None = None, passwords: dict[str, str] | None = None) -> Report:
    """Create the roles and apply the database privileges; safe to run again."""
    report = Report()
    conn = wh.connect(warehouse)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user")
            if not cur.fetchone()[0]:
                raise OperatorError(
                    "The warehouse user may not create roles (it has neither SUPERUSER nor CREATEROLE).",
                    "run `python -m dlt_pipelines db roles` as a DBA: set PGUSER/PGPASSWORD "
                    "(or WAREHOUSE_DSN) to a user with CREATEROLE that owns the database.",
                )
            # One run at a time per cluster: concurrent GRANTs on one object can fail.
            cur.execute("select pg_advisory_lock(hashtext('school_data.roles'))")
            try:
                ensure_roles(cur, report, passwords)
                grant_database(cur, report)
            finally:
                cur.execute("select pg_advisory_unlock(hashtext('school_data.roles'))")
    finally:
        conn.close()
    return report


def existing(warehouse: wh.Warehouse | None = None) -> set[str]:
    """Which of the project's roles exist on the warehouse's server."""
    with wh.cursor(warehouse) as cur:
        cur.execute("select rolname from pg_roles where rolname = any(%s)", (list(ROLES),))
        return {row[0] for row in cur.fetchall()}


def embedded_passwords(srv) -> dict[str, str]:
    """The login roles' passwords on the embedded server, generated on first use."""
    from .embedded_pg import ensure_password

    return {role: ensure_password(srv, role) for role in ROLES}


def ensure_embedded_roles(srv, settings: dict) -> None:
    """On every start of the embedded server: the four roles as logins with their
    passwords, and the pii_reader audit. Database privileges come from ``db roles``."""
    from .embedded_pg import _admin_connection

    conn = _admin_connection(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_lock(hashtext('school_data.roles'))")
            try:
                ensure_roles(cur, Report(), embedded_passwords(srv))
            finally:
                cur.execute("select pg_advisory_unlock(hashtext('school_data.roles'))")
    finally:
        conn.close()
