"""Run dbt against the resolved warehouse: ``python -m dlt_pipelines dbt build ...``.

dbt reads its connection from ``profiles/profiles.yml``, which takes the standard libpq
variables; this wrapper fills them from the same resolution dlt uses.

dbt runs as the resolved user (on the embedded default, its superuser; on a DBA's server,
a login that holds ``transformer``). The models grant SELECT to the ``analyst`` and
``pii_reader`` roles (dbt_project.yml); when the server lacks them this wrapper builds
without grants (``DBT_GRANT_ROLES=false``) and says how to create them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from dlt_pipelines.common import roles, settings, warehouse
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import event, get_logger

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


def dbt_env(wh: warehouse.Warehouse | None = None) -> dict[str, str]:
    wh = wh or warehouse.resolve()
    env = dict(os.environ)
    env.update(wh.libpq_env())
    env.update(_grants_env(wh))
    env.setdefault("DBT_PROFILES_DIR", str(settings.profiles_dir()))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(args: list[str], wh: warehouse.Warehouse | None = None, check: bool = False,
            capture: bool = False) -> subprocess.CompletedProcess:
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    return subprocess.run(
        [dbt, *args], cwd=settings.dbt_project_dir(), env=dbt_env(wh), check=check,
        capture_output=capture, text=True,
    )


def main(argv: list[str]) -> int:
    return run_dbt(argv).returncode
