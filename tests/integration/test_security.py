"""FERPA access control, for real: an authenticated server, least-privilege roles, dbt grants
and the pii_reader audit (docs/security.md).

A small simulated district is loaded by the project's pipelines into a fresh database,
``db roles`` runs (before and after the dbt build), and the tests connect as each role and
try to read every table of every schema.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest

from dlt_pipelines.common import embedded_pg, roles, warehouse

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlt_pipelines", *args], capture_output=True,
                          text=True, timeout=600, env=env)


def _acls(wh: warehouse.Warehouse) -> list[tuple]:
    """Every privilege in the database and the cluster's roles, to compare runs."""
    with warehouse.cursor(wh) as cur:
        cur.execute("""
            select 'schema', nspname, nspacl::text from pg_namespace
            union all
            select 'table', n.nspname || '.' || c.relname, c.relacl::text
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'v', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
            union all
            select 'default', defaclrole::regrole::text || ':' || defaclnamespace::regnamespace::text
                   || ':' || defaclobjtype::text, defaclacl::text from pg_default_acl
            union all
            select 'database', datname, datacl::text from pg_database where datname = current_database()
            union all
            select 'role', rolname, concat_ws(',', rolcanlogin, rolsuper, rolcreaterole, rolconfig::text)
            from pg_roles where rolname = any(%s)
            order by 1, 2""", (list(roles.ROLES),))
        return cur.fetchall()


@pytest.fixture(scope="module")
def built(new_database, pg_embedded, tmp_path_factory):
    """Load 1 school x 12 students with every pipeline, run `db roles`, build with dbt
    (models, seeds, snapshots; the data tests belong to other suites), run `db roles` twice."""
    from dlt_pipelines.aeries import cli as aeries_cli
    from dlt_pipelines.bakalari import cli as bakalari_cli
    from dlt_pipelines.dbt_runner import run_dbt
    from dlt_pipelines.iready import cli as iready_cli
    from dlt_pipelines.simulators.stack import StackConfig, start_stack

    root = tmp_path_factory.mktemp("security")
    env = {**new_database(), "SCHOOLDATA_LOCAL_DIR": str(root / "local"),
           "SCHOOLDATA_PIPELINES_DIR": str(root / "dlt"), "DBT_TARGET_PATH": str(root / "target"),
           "DBT_LOG_PATH": str(root / "logs")}
    stack = start_stack(StackConfig(n_schools=1, students_per_school=12), iready_dir=root / "iready")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WAREHOUSE_DSN", raising=False)
        mp.delenv("DBT_GRANT_ROLES", raising=False)
        for key, value in {**env, **stack.source_env()}.items():
            mp.setenv(key, value)
        try:
            assert aeries_cli.main(["--rate-limit", "0"]) == 0
            assert iready_cli.main([]) == 0
            assert bakalari_cli.main(["--requests-per-minute", "0"]) == 0
        finally:
            stack.stop()
        before_build = _cli("db", "roles")
        result = run_dbt(["build", "--exclude", "resource_type:test", "resource_type:unit_test"],
                         capture=True)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        wh = warehouse.resolve()
        runs = []
        for _ in range(2):
            runs.append((_cli("db", "roles"), _acls(wh)))
        yield {"wh": wh, "srv": pg_embedded, "before_build": before_build, "runs": runs,
               "env": dict(os.environ), "root": root}


def _as(built, role: str, password: str | None = None):
    wh = built["wh"]
    pw = password if password is not None else embedded_pg.read_password(built["srv"], role)
    return psycopg2.connect(host=wh.host, port=wh.port, user=role, password=pw,
                            dbname=wh.database, connect_timeout=10, passfile="/nonexistent/.pgpass")


def _tables(built) -> dict[str, list[str]]:
    """schema -> its tables and views, as the superuser sees them."""
    with warehouse.cursor(built["wh"]) as cur:
        cur.execute("select table_schema, table_name from information_schema.tables"
                    " where table_schema <> all(%s) order by 1, 2", (list(SYSTEM_SCHEMAS),))
        tables: dict[str, list[str]] = {}
        for schema, table in cur.fetchall():
            tables.setdefault(schema, []).append(table)
    return tables


def _readable(conn, schema: str, table: str) -> bool:
    with conn.cursor() as cur:
        try:
            cur.execute(f'select count(*) from "{schema}"."{table}"')
            cur.fetchone()
            conn.rollback()
            return True
        except psycopg2.errors.InsufficientPrivilege:
            conn.rollback()
            return False


def test_db_roles_runs_before_and_after_the_build_and_is_idempotent(built):
    assert built["before_build"].returncode == 0, built["before_build"].stderr[-2000:]
    (first, acl_first), (second, acl_second) = built["runs"]
    for run in (first, second):
        assert run.returncode == 0, run.stdout + run.stderr[-2000:]
        assert "roles created: none" in run.stdout  # the session server made them at start
        assert "access audit (log_statement=all): pii_reader" in run.stdout
    assert acl_first == acl_second
    assert any(kind == "default" for kind, *_ in acl_first)


def test_analyst_reads_every_mart_and_nothing_else(built):
    tables = _tables(built)
    assert len(tables["marts"]) >= 15 and "restricted_people" in tables["restricted"]
    for must_exist in ("raw_aeries", "staging", "intermediate", "snapshots", "restricted", "ops",
                       "reference"):
        assert tables.get(must_exist), must_exist
    conn = _as(built, roles.ANALYST)
    try:
        for table in tables["marts"]:
            assert _readable(conn, "marts", table), f"analyst cannot read marts.{table}"
        readable = [f"{schema}.{table}" for schema, names in tables.items() if schema != "marts"
                    for table in names if _readable(conn, schema, table)]
    finally:
        conn.close()
    assert readable == []


def test_analyst_is_refused_raw_staging_snapshots_and_restricted(built):
    conn = _as(built, roles.ANALYST)
    try:
        for relation in ("raw_aeries.students", "staging.stg_aeries__students",
                         "snapshots.snap_students", "restricted.restricted_people"):
            schema, table = relation.split(".")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(f"select * from {relation} limit 1")
            conn.rollback()
    finally:
        conn.close()


def test_pii_reader_reads_restricted_and_marts_only_and_is_audited(built):
    tables = _tables(built)
    marker = f"audit-{uuid.uuid4().hex[:8]}"
    conn = _as(built, roles.PII_READER)
    try:
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from restricted.restricted_people /* {marker} */")
            assert cur.fetchone()[0] > 0
        conn.rollback()
        assert _readable(conn, "marts", "student_summary")
        readable = [f"{schema}.{table}" for schema, names in tables.items()
                    if schema not in ("marts", "restricted")
                    for table in names if _readable(conn, schema, table)]
    finally:
        conn.close()
    assert readable == []
    log = built["srv"].log_file.read_text(errors="replace")
    lines = [line for line in log.splitlines() if marker in line]
    assert lines, "the pii_reader statement is not in the server log"
    assert "user=pii_reader" in lines[0] and "statement:" in lines[0]
    assert lines[0][:4].isdigit()  # starts with the timestamp (log_line_prefix %m)


def test_analyst_reads_are_not_statement_logged(built):
    marker = f"quiet-{uuid.uuid4().hex[:8]}"
    conn = _as(built, roles.ANALYST)
    try:
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from marts.student_summary /* {marker} */")
    finally:
        conn.close()
    assert marker not in built["srv"].log_file.read_text(errors="replace")


def test_dbt_declares_the_grants(built):
    """The marts' SELECT grants are dbt's: analyst on every mart, nobody but pii_reader on
    restricted, and nothing granted to either anywhere else."""
    with warehouse.cursor(built["wh"]) as cur:
        cur.execute("select table_schema, table_name, grantee from information_schema.role_table_grants"
                    " where grantee in ('analyst', 'pii_reader') and privilege_type = 'SELECT'")
        grants = cur.fetchall()
    tables = _tables(built)
    assert {(s, t) for s, t, g in grants if g == "analyst"} == {("marts", t) for t in tables["marts"]}
    assert {(s, t) for s, t, g in grants if g == "pii_reader"} == {
        ("restricted", t) for t in tables["restricted"]}


def test_transformer_reads_raw_and_loader_writes_ops(built):
    conn = _as(built, roles.TRANSFORMER)
    try:
        assert _readable(conn, "raw_aeries", "students")
        assert _readable(conn, "ops", "sync_runs")
        with conn.cursor() as cur:
            cur.execute("create table staging.transformer_probe (x int);"
                        " drop table staging.transformer_probe")
        conn.rollback()
    finally:
        conn.close()
    conn = _as(built, roles.LOADER)
    try:
        assert _readable(conn, "raw_aeries", "students")
        assert not _readable(conn, "marts", "student_summary")
        assert not _readable(conn, "restricted", "restricted_people")
        with conn.cursor() as cur:
            cur.execute("insert into ops.load_rejects (run_id, source, resource, reason)"
                        " values ('probe', 'probe', 'probe', 'probe')")
        conn.rollback()
    finally:
        conn.close()


def test_db_roles_needs_createrole(built):
    env = {**built["env"], "PGUSER": roles.ANALYST,
           "PGPASSWORD": embedded_pg.read_password(built["srv"], roles.ANALYST)}
    result = _cli("db", "roles", env=env)
    assert result.returncode == 2
    assert "may not create roles" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_connections_without_the_password_are_refused(built):
    wh = built["wh"]
    for password in ("", "wrong-password"):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host=wh.host, port=wh.port, user=embedded_pg.SUPERUSER, password=password,
                             dbname=wh.database, connect_timeout=10, passfile="/nonexistent/.pgpass")
        with pytest.raises(psycopg2.OperationalError, match="password"):
            _as(built, roles.PII_READER, password=password or "x")
    # the Unix socket asks for the password too (no trust line, not even for local)
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host=str(built["srv"].socket_dir), port=wh.port, user=embedded_pg.SUPERUSER,
                         password="", dbname=wh.database, connect_timeout=10, passfile="/nonexistent/.pgpass")
    hba = (built["srv"].data_dir / "pg_hba.conf").read_text()
    assert not [line for line in hba.splitlines() if "trust" in line.split("#")[0].split()]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another OS user needs root")
def test_another_os_user_cannot_connect(built):
    wh = built["wh"]
    nobody = pwd.getpwnam("nobody")
    psql = shutil.which("psql") or embedded_pg._bin("psql")

    def as_nobody(*args: str) -> subprocess.CompletedProcess:
        def drop():
            os.setgid(nobody.pw_gid)
            os.setgroups([])
            os.setuid(nobody.pw_uid)

        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=env,
                              preexec_fn=drop, cwd="/")

    for host in (wh.host, str(built["srv"].socket_dir)):
        for user in (embedded_pg.SUPERUSER, roles.PII_READER):
            result = as_nobody(psql, "-w", "-h", host, "-p", str(wh.port), "-U", user, "-d",
                               wh.database, "-c", "select 1")
            assert result.returncode != 0, (host, user)
            assert "password" in result.stderr or "Permission denied" in result.stderr, result.stderr
    result = as_nobody("/bin/cat", str(built["srv"].password_file()))
    assert result.returncode != 0 and "Permission denied" in result.stderr


def test_password_files_are_private(built):
    srv = built["srv"]
    assert oct(srv.root.stat().st_mode & 0o777) == oct(0o700)
    assert oct(srv.auth_dir.stat().st_mode & 0o777) == oct(0o700)
    for role in (embedded_pg.SUPERUSER, *roles.ROLES):
        path = srv.password_file(role)
        assert oct(path.stat().st_mode & 0o777) == oct(0o600), path
        assert path.stat().st_uid == os.geteuid()
        assert len(path.read_text().strip()) >= 32


def test_manifest_grants_follow_the_schema(built, repo_root, tmp_path):
    """Every model dbt puts in `restricted` grants only pii_reader, every other mart analyst;
    a model moved into `restricted` without its grant fails here."""
    from dlt_pipelines.dbt_runner import run_dbt

    result = run_dbt(["parse", "--target-path", str(tmp_path)], capture=True)
    assert result.returncode == 0, result.stdout[-2000:]
    nodes = json.loads((Path(tmp_path) / "manifest.json").read_text())["nodes"].values()
    models = [n for n in nodes if n["resource_type"] == "model"]
    by_schema: dict[str, list[dict]] = {}
    for node in models:
        by_schema.setdefault(node["schema"], []).append(node["config"].get("grants") or {})
    assert by_schema["restricted"] and all(g == {"select": ["pii_reader"]} for g in by_schema["restricted"])
    assert by_schema["marts"] and all(g == {"select": ["analyst"]} for g in by_schema["marts"])
    for schema, grants in by_schema.items():
        if schema not in ("marts", "restricted"):
            assert all(not g for g in grants), schema


def test_grants_can_be_switched_off_for_a_server_without_the_roles(built, tmp_path, monkeypatch):
    from dlt_pipelines.dbt_runner import run_dbt

    monkeypatch.setenv("DBT_GRANT_ROLES", "false")
    result = run_dbt(["parse", "--target-path", str(tmp_path)], capture=True)
    assert result.returncode == 0, result.stdout[-2000:]
    nodes = json.loads((Path(tmp_path) / "manifest.json").read_text())["nodes"].values()
    grants = {n["name"]: n["config"].get("grants") for n in nodes if n["resource_type"] == "model"}
    assert grants["student_summary"] == {"select": []} and grants["restricted_people"] == {"select": []}


def test_no_password_in_dlt_state_dbt_files_or_logs(built):
    """dlt's working state and traces, dbt's target and logs, the server log: no password."""
    srv = built["srv"]
    secrets = [embedded_pg.read_password(srv, role) for role in (embedded_pg.SUPERUSER, *roles.ROLES)]
    files = [p for p in Path(built["root"]).rglob("*") if p.is_file()] + [srv.log_file]
    assert len(files) > 20
    leaks = [str(path) for path in files for secret in secrets
             if secret.encode() in path.read_bytes()]
    assert leaks == []


def test_a_login_holding_pii_reader_is_audited_too(built):
    """Role-level settings apply to the login role: `db roles` sets the audit on every
    login that holds pii_reader, and its reads land in the log under its own name."""
    name, password = f"registrar_{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    marker = f"member-{uuid.uuid4().hex[:8]}"
    with warehouse.cursor(built["wh"]) as cur:
        cur.execute(f"create role {name} login password %s; grant pii_reader to {name}", (password,))
    try:
        report = roles.setup(built["wh"])
        assert name in report.audited and not report.warnings
        conn = _as(built, name, password=password)
        try:
            with conn.cursor() as cur:
                cur.execute(f"select count(*) from restricted.restricted_people /* {marker} */")
                assert cur.fetchone()[0] > 0
        finally:
            conn.close()
        lines = [line for line in built["srv"].log_file.read_text(errors="replace").splitlines()
                 if marker in line]
        assert lines and f"user={name}" in lines[0]
    finally:
        with warehouse.cursor(built["wh"]) as cur:
            cur.execute(f"drop role {name}")


def test_a_dba_without_superuser_runs_db_roles(built):
    """CREATEROLE and ownership of the database are enough for the roles and privileges;
    what needs more (the audit, default privileges for loader's tables) is a warning with
    its fix and exit status 1, not a crash."""
    dba, password = f"dba_{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    database = f"t_{uuid.uuid4().hex[:12]}"
    admin = warehouse.connect(warehouse.Warehouse(**{**built["wh"].__dict__, "database": "postgres"}))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create role {dba} login createrole password %s", (password,))
        cur.execute(f"create database {database} owner {dba}")
    try:
        env = {**built["env"], "PGUSER": dba, "PGPASSWORD": password, "PGDATABASE": database}
        result = _cli("db", "roles", env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"privileges applied in database {database}" in result.stdout
        assert f"fix: `GRANT loader TO {dba};`" in result.stdout
        assert "needs a superuser" in result.stdout
        dba_wh = warehouse.Warehouse(**{**built["wh"].__dict__, "user": dba, "password": password,
                                        "database": database})
        with warehouse.cursor(dba_wh) as cur:
            cur.execute("select has_schema_privilege('analyst', 'marts', 'usage'),"
                        " has_schema_privilege('analyst', 'staging', 'usage'),"
                        " has_database_privilege('public', current_database(), 'connect')")
            assert cur.fetchone() == (True, False, False)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database {database}")
            cur.execute(f"drop role {dba}")
        admin.close()
