"""Deployment shapes: a US district (Aeries + i-Ready), a Czech school (Bakaláři), a network with
all three. In each, the README's own cron commands run against the simulators, and exit 0 with
only that shape's sources configured; the models of absent sources are disabled, not errored.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from dlt_pipelines.simulators.stack import StackConfig, start_stack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SHAPES = {"us_district": ("aeries", "iready"), "czech_school": ("bakalari",),
          "network": ("aeries", "iready", "bakalari")}
SOURCE_KEYS = {"aeries": ("AERIES_BASE_URL", "AERIES_CERT"), "iready": ("IREADY_SOURCE_URL",),
               "bakalari": ("BAKALARI_BASE_URL", "BAKALARI_USERNAME", "BAKALARI_PASSWORD")}
# a mart of each source: present exactly when the source is
MARKERS = {"aeries": "marts.fct_attendance_daily", "iready": "marts.fct_iready_growth",
           "bakalari": "marts.dim_bakalari_classes"}


def readme_cron() -> list[tuple[str, str]]:
    """(schedule, command) of every line of the README's cron block."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```cron\n(.*?)```", text, re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return [(" ".join(line.split()[:5]), line.split(None, 5)[5]) for line in lines]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    sims = start_stack(StackConfig(n_schools=1, students_per_school=20), tmp_path_factory.mktemp("iready"))
    yield sims
    sims.stop()


def _shape_env(stack, pg: dict[str, str], tmp_path: Path, sources: tuple[str, ...]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AERIES_", "BAKALARI_", "IREADY_", "SCHOOLDATA_SOURCES", "SCHOOLDATA_DBT"))}
    env.update(pg)
    env.update({"SCHOOLDATA_LOCAL_DIR": str(tmp_path / "local"),
                "SCHOOLDATA_PIPELINES_DIR": str(tmp_path / "dlt"),
                "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs"),
                "AERIES_RATE_LIMIT": "0", "BAKALARI_REQUESTS_PER_MINUTE": "0"})
    simulated = stack.source_env()
    for source in sources:
        env.update({key: simulated[key] for key in SOURCE_KEYS[source]})
    return env


def _cron_command(command: str, tmp_path: Path) -> str:
    command = command.replace("/opt/school-data", str(REPO))
    return re.sub(r"/var/log/([\w.-]+)", lambda m: str(tmp_path / m.group(1)), command)


def _cron(command: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", _cron_command(command, tmp_path)], env=env, capture_output=True,
                          text=True, timeout=900)


def _query(env: dict[str, str], sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"],
                            password=env.get("PGPASSWORD", ""), dbname=env["PGDATABASE"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def _log(tmp_path: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in tmp_path.glob("*.log"))


@pytest.fixture(scope="module")
def first_nights(stack, new_database, tmp_path_factory):
    """The README's nightly line in every shape at once (three warehouses, three processes: the
    shapes share nothing but the simulators, and running them side by side halves the wait)."""
    nightly = next(cmd for schedule, cmd in readme_cron() if schedule == "15 2 * * 1-6")
    runs = {}
    for shape, sources in SHAPES.items():
        tmp_path = tmp_path_factory.mktemp(shape)
        env = _shape_env(stack, new_database(), tmp_path, sources)
        proc = subprocess.Popen(["/bin/sh", "-c", _cron_command(nightly, tmp_path)], env=env)
        runs[shape] = (proc, env, tmp_path)
    for proc, _, _ in runs.values():
        proc.wait(timeout=900)
    return nightly, {shape: (proc.returncode, env, tmp_path) for shape, (proc, env, tmp_path) in runs.items()}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_readme_nightly_runs_in_each_shape(first_nights, shape):
    sources = SHAPES[shape]
    nightly, runs = first_nights
    status, env, tmp_path = runs[shape]
    assert status == 0, _log(tmp_path)
    ran = {r[0] for r in _query(env, "select source from ops.sync_runs where status = 'sync_ok'")}
    assert ran == set(sources)
    present = {name for name, table in MARKERS.items()
               if _query(env, f"select to_regclass('{table}') is not null")[0][0]}
    assert present == set(sources), "a mart exists exactly for each source the deployment has"
    people = {r[0] for r in _query(env, "select distinct source_system from restricted.restricted_people")}
    assert people == set(sources) - {"iready"}, "restricted people come from the sources that exist"


def test_the_network_runs_every_readme_line(first_nights):
    """The weekly sweep and full build, the 15-minute roster sync, and a second night that rebuilds
    only what changed."""
    nightly, runs = first_nights
    status, env, tmp_path = runs["network"]
    assert status == 0, _log(tmp_path)
    for schedule, command in readme_cron():
        if schedule != "15 2 * * 1-6":
            result = _cron(command, env, tmp_path)
            assert result.returncode == 0, (schedule, _log(tmp_path))
    second = _cron(nightly, env, tmp_path)
    assert second.returncode == 0, _log(tmp_path)
    assert '"selection": "source_status:fresher+"' in (tmp_path / "school-data.log").read_text()
    assert _query(env, "select count(*) from ops.sync_runs where status <> 'sync_ok'") == [(0,)]
