"""Shared fixtures: a throwaway embedded Postgres for the whole session, and a fresh
database per test that needs one. Nothing here assumes a server that is already running."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from dlt_pipelines.common import embedded_pg, warehouse

# Hypothesis keeps what it learns, including constants read from the code (the simulator's name
# lists among them), in a folder of its own: outside the checkout and private, so no student-like
# name is left in the repository after a test run.
_HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / f"schooldata-hypothesis-{os.getuid()}"
_HYPOTHESIS_HOME.mkdir(mode=0o700, exist_ok=True)
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(_HYPOTHESIS_HOME)
set_hypothesis_home_dir(_HYPOTHESIS_HOME)


# The longest test files, longest first (measured with --durations on 2 cores). Under
# `make test` (pytest-xdist, one file per worker at a time) they start first, so no worker is
# left running a long file alone at the end while the other idles.
SLOW_FILES_FIRST = (
    "tests/integration/test_attendance_nights.py",
    "tests/integration/test_spark_equality.py",
    "tests/integration/test_deployment_shapes.py",
    "tests/integration/test_demo.py",
    "tests/integration/test_aeries_files_marts.py",
    "tests/integration/test_dbt_attendance.py",
    "tests/integration/test_dashboard.py",
    "tests/integration/test_dbt_growth.py",
    "tests/integration/test_security.py",
)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadFileScheduling

    class SlowFilesFirst(LoadFileScheduling):
        def _assign_work_unit(self, node):
            for scope in reversed(SLOW_FILES_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return SlowFilesFirst(config, log) if config.getvalue("dist") == "loadfile" else None


@pytest.fixture(scope="session")
def pg_embedded(tmp_path_factory):
    """The session's embedded server (``EmbeddedServer``): its password files are under
    ``pg_embedded.auth_dir``; ``pg_server`` has the superuser's connection settings."""
    root = tmp_path_factory.mktemp("pg")
    old = {k: os.environ.get(k) for k in ("EMBEDDED_PG_FAST", "EMBEDDED_PG_PORT")}
    os.environ["EMBEDDED_PG_FAST"] = "1"
    os.environ.pop("EMBEDDED_PG_PORT", None)
    srv = embedded_pg.server(root)
    embedded_pg.start(srv)
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    yield srv
    embedded_pg.stop(srv)


@pytest.fixture(scope="session")
def pg_server(pg_embedded) -> dict:
    """Superuser connection settings of the session server (password included)."""
    return embedded_pg.connection_settings(embedded_pg._read_state(pg_embedded), pg_embedded)


def _create_database(settings: dict, name: str) -> None:
    wh = warehouse.Warehouse(origin="env", **{**settings, "database": "postgres"})
    conn = warehouse.connect(wh)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'create database "{name}"')
    conn.close()


@pytest.fixture
def fresh_db(pg_server, monkeypatch, tmp_path) -> warehouse.Warehouse:
    """A new, empty database on the session server; PG* variables point at it, so every
    part of the project (dlt, dbt, audit) resolves to it. dlt state goes to tmp_path."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _create_database(pg_server, name)
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    env = {
        "PGHOST": pg_server["host"], "PGPORT": str(pg_server["port"]),
        "PGUSER": pg_server["user"], "PGPASSWORD": pg_server["password"], "PGDATABASE": name,
        "SCHOOLDATA_LOCAL_DIR": str(tmp_path / "local"),
        "SCHOOLDATA_PIPELINES_DIR": str(tmp_path / "dlt"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return warehouse.resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def new_database(pg_server):
    """Factory for module-scoped tests: ``env = new_database()`` returns the PG* variables
    of a brand-new database (apply them with ``pytest.MonkeyPatch.context()``)."""

    def factory() -> dict[str, str]:
        name = f"t_{uuid.uuid4().hex[:12]}"
        _create_database(pg_server, name)
        return {
            "PGHOST": pg_server["host"], "PGPORT": str(pg_server["port"]),
            "PGUSER": pg_server["user"], "PGPASSWORD": pg_server["password"], "PGDATABASE": name,
        }

    return factory
