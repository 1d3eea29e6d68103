"""Run dbt against the resolved warehouse: ``python -m dlt_pipelines dbt build ...``.

dbt reads its connection from ``profiles/profiles.yml``, which takes the standard libpq
variables; this wrapper fills them from the same resolution dlt uses.

dbt runs as the resolved user (on the embedded default, its superuser; on a DBA's server,
a login that holds ``transformer``). The models grant SELECT to the ``analyst`` and
``pii_reader`` roles (dbt_project.yml); when the server lacks them this wrapper builds
without grants (``DBT_GRANT_ROLES=false``) and says how to create them.

It also tells dbt which sources the deployment has (``SCHOOLDATA_DBT_SOURCES``, see
:mod:`dlt_pipelines.common.deployment`), so the models of an absent source are disabled, and
runs dbt as a child that ends when the wrapper is stopped or killed
(:mod:`dlt_pipelines.common.processes`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from dlt_pipelines.common import deployment, roles, settings, warehouse
from dlt_pipelines.common.errors import ConfigError, OperatorError
from dlt_pipelines.common.logs import event, get_logger
from dlt_pipelines.common.processes import run_child

log = get_logger("dbt")


def _grants_env(wh: warehouse.Warehouse) -> dict[str, str]:
    """DBT_GRANT_ROLES=false when the reader roles are missing (a grant to a role that
    does not exist fails the build); an explicit DBT_GRANT_ROLES is left alone."""
    if os.environ.get("DBT_GRANT_ROLES"):
        return {}
    try:
        missing = {roles.ANALYST, roles.PII_READER} - roles.existing(wh)
    except OperatorError:
        return {}  # dbt reports the connection problem itself
    if not missing:
        return {}
    event(log, "dbt_grants_skipped", level=logging.WARNING, missing_roles=sorted(missing),
          fix="run `python -m dlt_pipelines db roles` (make db-roles) as a DBA")
    return {"DBT_GRANT_ROLES": "false"}


def _sources_env(wh: warehouse.Warehouse) -> dict[str, str]:
    """SCHOOLDATA_DBT_SOURCES from the deployment, unless the caller set it."""
    if deployment.DBT_ENV in os.environ:
        return {}
    try:
        sources = deployment.dbt_sources(wh)
    except OperatorError as exc:
        if isinstance(exc, ConfigError):
            raise
        return {}  # dbt reports the connection problem itself
    event(log, "dbt_sources", sources=",".join(sources) or "none")
    return {deployment.DBT_ENV: ",".join(sources)}


SPARK_SOURCES = "aeries,iready"  # the sources the lake holds (docs/scale.md)


def dbt_env(wh: warehouse.Warehouse | None = None) -> dict[str, str]:
    if wh is None and os.environ.get("DBT_TARGET") == "spark":
        # the Spark target reads the lake (LAKE_URL), not the warehouse: no Postgres is resolved
        env = dict(os.environ)
        env.setdefault(deployment.DBT_ENV, SPARK_SOURCES)
        env.setdefault("DBT_PROFILES_DIR", str(settings.profiles_dir()))
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return env
    wh = wh or warehouse.resolve()
    env = dict(os.environ)
    env.update(wh.libpq_env())
    env.update(_grants_env(wh))
    env.update(_sources_env(wh))
    env.setdefault("DBT_PROFILES_DIR", str(settings.profiles_dir()))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(args: list[str], wh: warehouse.Warehouse | None = None, check: bool = False,
            capture: bool = False) -> subprocess.CompletedProcess:
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    result = run_child([dbt, *args], capture=capture, cwd=settings.dbt_project_dir(), env=dbt_env(wh))
    if check:
        result.check_returncode()
    return result


def main(argv: list[str]) -> int:
    return run_dbt(argv).returncode
