"""Project paths and small environment helpers shared by every pipeline."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def local_dir() -> Path:
    """Git-ignored working folder for the embedded database, dlt state and demo files."""
    path = Path(os.environ.get("SCHOOLDATA_LOCAL_DIR", REPO_ROOT / ".local"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def pipelines_dir() -> Path:
    """Where dlt keeps its local pipeline working state (resumable extracts live here)."""
    path = Path(os.environ.get("SCHOOLDATA_PIPELINES_DIR", local_dir() / "dlt"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def dbt_project_dir() -> Path:
    return REPO_ROOT / "dbt_project"


def profiles_dir() -> Path:
    return Path(os.environ.get("DBT_PROFILES_DIR", REPO_ROOT / "profiles"))


def env(name: str, default: str | None = None) -> str | None:
    """Read a setting from the environment, treating empty strings as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default
