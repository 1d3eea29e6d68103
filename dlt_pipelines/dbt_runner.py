"""Run dbt against the resolved warehouse: ``python -m dlt_pipelines dbt build ...``.

dbt reads its connection from ``profiles/profiles.yml``, which takes the standard libpq
variables; this wrapper fills them from the same resolution dlt uses.
"""

from __future__ import annotations

import os
import subprocess
import sys

from dlt_pipelines.common import settings, warehouse


def dbt_env(wh: warehouse.Warehouse | None = None) -> dict[str, str]:
    wh = wh or warehouse.resolve()
    env = dict(os.environ)
    env.update(wh.libpq_env())
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
