"""The embedded server's authentication on its own throwaway servers: a data folder made
with ``--auth=trust`` by an older version is migrated (stopped or running), and dbt builds
without grants on a server that lacks the roles (docs/security.md)."""

from __future__ import annotations

import json

import psycopg2
import pytest

from dlt_pipelines.common import embedded_pg, roles, warehouse
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.dbt_runner import _grants_env


def _trust_folder(tmp_path, monkeypatch) -> embedded_pg.EmbeddedServer:
    """What older versions created: initdb --auth=trust, no password."""
    monkeypatch.setenv("EMBEDDED_PG_FAST", "1")
    srv = embedded_pg.server(tmp_path / "pg")
    srv.data_dir.mkdir(parents=True)
    embedded_pg._prepare_for_system_user(srv)
    result = embedded_pg._run([embedded_pg._bin("initdb"), "-D", str(srv.data_dir), "-U", "postgres",
                               "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], srv)
    assert result.returncode == 0, result.stderr
    assert embedded_pg._hba_trusts(srv)
    return srv


def _no_password(port: int):
    return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password="",
                            dbname="postgres", connect_timeout=10, passfile="/nonexistent/.pgpass")


def _assert_authenticated(srv, settings) -> None:
    assert not embedded_pg._hba_trusts(srv)
    with pytest.raises(psycopg2.OperationalError, match="password"):
        _no_password(settings["port"])
    with warehouse.cursor(warehouse.Warehouse(origin="embedded", **settings)) as cur:
        cur.execute("select current_user, rolpassword like 'SCRAM-SHA-256$%' from pg_authid"
                    " where rolname = current_user")
        assert cur.fetchone() == ("postgres", True)
        cur.execute("select count(*) from pg_roles where rolname = any(%s) and rolcanlogin",
                    (list(roles.ROLES),))
        assert cur.fetchone()[0] == len(roles.ROLES)


def test_a_stopped_trust_folder_is_migrated_on_start(tmp_path, monkeypatch):
    srv = _trust_folder(tmp_path, monkeypatch)
    settings = embedded_pg.start(srv)
    try:
        _assert_authenticated(srv, settings)
        # started with the warehouse's memory settings, not Postgres' OLTP defaults
        with warehouse.cursor(warehouse.Warehouse(origin="embedded", **settings)) as cur:
            for name, value in embedded_pg.WAREHOUSE_SETTINGS.items():
                cur.execute(f"show {name}")
                assert cur.fetchone()[0] == value, name
    finally:
        embedded_pg.stop(srv)
    # a lost password file is a clear error, not a new password the server does not know
    password = srv.password_file().read_text()
    srv.password_file().unlink()
    with pytest.raises(OperatorError, match="password file .* is gone"):
        embedded_pg.start(srv)
    srv.password_file().write_text(password)
    assert embedded_pg.start(srv)["port"] == settings["port"]
    embedded_pg.stop(srv)


def test_a_running_trust_server_is_migrated_in_place(tmp_path, monkeypatch):
    srv = _trust_folder(tmp_path, monkeypatch)
    port = embedded_pg._free_port()
    result = embedded_pg._run([embedded_pg._bin("pg_ctl"), "-D", str(srv.data_dir), "-l", str(srv.log_file),
                               "-o", f"-p {port} -h 127.0.0.1 -k {srv.socket_dir}", "-w", "start"], srv)
    assert result.returncode == 0, result.stderr
    srv.state_file.write_text(json.dumps({"port": port, "user": "postgres", "database": "postgres"}))
    try:
        _no_password(port).close()  # the old server lets anyone in
        settings = embedded_pg.start(srv)
        assert settings["port"] == port  # not restarted
        _assert_authenticated(srv, settings)
    finally:
        embedded_pg.stop(srv)


def test_dbt_builds_without_grants_where_the_roles_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDED_PG_FAST", "1")
    monkeypatch.delenv("DBT_GRANT_ROLES", raising=False)
    srv = embedded_pg.server(tmp_path / "pg")
    settings = embedded_pg.start(srv)
    wh = warehouse.Warehouse(origin="env", **settings)
    try:
        assert _grants_env(wh) == {}
        with warehouse.cursor(wh) as cur:
            cur.execute("drop role pii_reader; drop role analyst")
        assert _grants_env(wh) == {"DBT_GRANT_ROLES": "false"}
        monkeypatch.setenv("DBT_GRANT_ROLES", "true")  # an explicit choice is kept
        assert _grants_env(wh) == {}
        monkeypatch.delenv("DBT_GRANT_ROLES")
        report = roles.setup(wh)  # a DBA's run: NOLOGIN groups
        assert report.created == [roles.ANALYST, roles.PII_READER] and not report.warnings
        assert _grants_env(wh) == {}
        assert roles.existing(wh) == set(roles.ROLES)
    finally:
        embedded_pg.stop(srv)


def test_the_cli_on_the_embedded_default(tmp_path):
    """`db up`, `db roles`, `db env --role analyst` and `db down` on a checkout's own server:
    the role logins work, only `db env` prints a password, `db status` shows the auth."""
    import os
    import shlex
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("WAREHOUSE_DSN", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")}
    env.update(SCHOOLDATA_LOCAL_DIR=str(tmp_path / "local"), EMBEDDED_PG_FAST="1")

    def cli(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "dlt_pipelines", "db", *args], env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    srv = embedded_pg.server(tmp_path / "local" / "pg")
    try:
        outputs = [cli("up"), cli("roles"), cli("roles"), cli("status")]
        assert "roles created: none" in outputs[2].stdout
        assert json.loads(outputs[3].stdout)["authentication"] == "scram-sha-256"
        exports = {}
        for line in cli("env", "--role", "analyst").stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = shlex.split(value)[0] if value else ""
        assert exports["PGUSER"] == "analyst"
        assert exports["PGPASSWORD"] == embedded_pg.read_password(srv, "analyst")
        conn = psycopg2.connect(host=exports["PGHOST"], port=int(exports["PGPORT"]), user="analyst",
                                password=exports["PGPASSWORD"], dbname=exports["PGDATABASE"])
        try:
            with conn.cursor() as cur:
                cur.execute("select current_user, has_schema_privilege('marts', 'usage'),"
                            " has_schema_privilege('raw_aeries', 'usage')")
                assert cur.fetchone() == ("analyst", True, False)
        finally:
            conn.close()
        secrets = [embedded_pg.read_password(srv, r) for r in (embedded_pg.SUPERUSER, *roles.ROLES)]
        printed = "".join(o.stdout + o.stderr for o in outputs)
        assert not [s for s in secrets if s in printed]
    finally:
        cli("down")
