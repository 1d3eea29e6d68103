"""Project paths and small environment helpers shared by every pipeline."""

from __future__ import annotations

import os
from pathlib import Path

from .at_rest import private_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def local_dir() -> Path:
    """Git-ignored working folder for the embedded database, dlt state and keys (mode 0700)."""
    return private_dir(Path(os.environ.get("SCHOOLDATA_LOCAL_DIR", REPO_ROOT / ".local")))


def pipelines_dir() -> Path:
    """Where dlt keeps its local pipeline working state (resumable extracts live here; 0700)."""
    return private_dir(Path(os.environ.get("SCHOOLDATA_PIPELINES_DIR", local_dir() / "dlt")))


def dbt_project_dir() -> Path:
    return REPO_ROOT / "dbt_project"


def profiles_dir() -> Path:
    return Path(os.environ.get("DBT_PROFILES_DIR", REPO_ROOT / "profiles"))


def env(name: str, default: str | None = None) -> str | None:
    """Read a setting from the environment, treating empty strings as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default
