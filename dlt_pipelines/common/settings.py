"""Project paths and small environment helpers shared by every pipeline."""

from __future__ import annotations

import os
from pathlib import Path

from .at_rest import TRAVERSE_ONLY_DIR, private_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def local_dir() -> Path:
    """Git-ignored working folder for the embedded database, dlt state and keys: 0700, or 0711
    when an embedded Postgres run by another OS user (the root case) lives in it: that user
    must traverse it to reach ``pg``. Every folder inside that holds data is 0700 itself."""
    path = Path(os.environ.get("SCHOOLDATA_LOCAL_DIR", REPO_ROOT / ".local"))
    # the benchmarks' throwaway server lives in bench/pg (bench/__main__.py): under root, a 0700
    # here cut it off mid-run when no demo database (pg) existed
    servers = (path / "pg", path / "bench" / "pg")
    if any(pg.exists() and pg.stat().st_uid != os.geteuid() for pg in servers):
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, TRAVERSE_ONLY_DIR)
        return path
    return private_dir(path)


def pipelines_dir() -> Path:
    """Where dlt keeps its local pipeline working state (resumable extracts live here; 0700)."""
    return private_dir(Path(os.environ.get("SCHOOLDATA_PIPELINES_DIR", local_dir() / "dlt")))


def dbt_project_dir() -> Path:
    return REPO_ROOT / "dbt_project"


def dbt_target_dir() -> Path:
    """Where dbt writes its artifacts: ``DBT_TARGET_PATH`` (relative to the project), else target/."""
    path = os.environ.get("DBT_TARGET_PATH")
    return Path(path) if path and Path(path).is_absolute() else dbt_project_dir() / (path or "target")


def profiles_dir() -> Path:
    return Path(os.environ.get("DBT_PROFILES_DIR", REPO_ROOT / "profiles"))


def env(name: str, default: str | None = None) -> str | None:
    """Read a setting from the environment, treating empty strings as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default
