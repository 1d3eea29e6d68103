"""Which warehouse the project resolves to, from the documented settings."""

from __future__ import annotations

import json
import logging

import pytest

from dlt_pipelines.common import logs, warehouse
from dlt_pipelines.common.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch):
    for key in ("WAREHOUSE_DSN", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_dsn_wins_and_is_parsed(clean_env):
    clean_env.setenv("WAREHOUSE_DSN", "postgresql://etl%40d:p%2Fw@db.example.org:6543/district")
    clean_env.setenv("PGHOST", "ignored")
    wh = warehouse.resolve()
    assert (wh.host, wh.port, wh.user, wh.password, wh.database) == (
        "db.example.org", 6543, "etl@d", "p/w", "district")
    assert wh.origin == "dsn"
    assert "p/w" not in wh.describe() and "p%2Fw" not in wh.describe()
    assert warehouse._from_dsn(wh.dsn) == wh


def test_libpq_variables(clean_env):
    clean_env.setenv("PGHOST", "pg.internal")
    clean_env.setenv("PGUSER", "loader")
    clean_env.setenv("PGDATABASE", "warehouse")
    wh = warehouse.resolve()
    assert (wh.host, wh.port, wh.user, wh.database, wh.origin) == (
        "pg.internal", 5432, "loader", "warehouse", "env")
    assert wh.libpq_env()["PGPORT"] == "5432"


def test_bad_settings_give_operator_errors(clean_env):
    clean_env.setenv("WAREHOUSE_DSN", "mysql://x@y/z")
    with pytest.raises(ConfigError, match="not a Postgres URL"):
        warehouse.resolve()
    clean_env.delenv("WAREHOUSE_DSN")
    clean_env.setenv("PGHOST", "h")
    clean_env.setenv("PGPORT", "fivefourthreetwo")
    with pytest.raises(ConfigError, match="PGPORT"):
        warehouse.resolve()


def test_log_lines_are_json_and_secrets_masked(capsys):
    logs.configure("DEBUG")
    logs.register_secret("0123456789abcdef0123456789abcdef")
    log = logs.get_logger("test")
    logs.event(log, "sync_start", level=logging.DEBUG, note="cert=0123456789abcdef0123456789abcdef",
               school_code=101)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    payload = json.loads(line)
    assert payload["event"] == "sync_start" and payload["school_code"] == 101
    assert "0123456789abcdef" not in line and logs.MASK in payload["note"]


def test_dbt_artifacts_are_read_where_dbt_wrote_them(monkeypatch, tmp_path):
    from dlt_pipelines.common import settings

    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    assert settings.dbt_target_dir() == settings.dbt_project_dir() / "target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "t"))
    assert settings.dbt_target_dir() == tmp_path / "t"
    monkeypatch.setenv("DBT_TARGET_PATH", "ci-target")  # dbt resolves a relative path in the project
    assert settings.dbt_target_dir() == settings.dbt_project_dir() / "ci-target"
