"""Nothing sensitive at rest outside the warehouse (docs/security.md, "PII inventory and data at rest").

* Working folders (``.local``, the dlt pipelines folder, simulator export folders) are 0700,
  so another local OS user cannot list or read what a run leaves there.
* Every dlt pipeline is created by :func:`pipeline`: completed load jobs are deleted
  (``load.delete_completed_jobs``), the merge staging datasets (``raw_*_staging``) are
  truncated after each load (``load.truncate_staging_dataset``), and :func:`purge_loaded`
  removes the loaded package folders dlt keeps (schemas, package state, failed jobs).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
TRAVERSE_ONLY_DIR = 0o711  # others may pass through (to a folder they own), not list or read
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
TRACE_FILE = "trace.pickle"  # dlt.pipeline.trace.TRACE_FILE_NAME


def private_dir(path: Path | str) -> Path:
    """Create ``path`` (and missing parents) and make the folder itself 0700."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)
    return path


def lock_down_tree(root: Path | str) -> None:
    """Make every folder under ``root`` 0700 and every file 0600 (what dlt wrote with the
    process umask). Symlinks are left alone."""
    root = Path(root)
    if not root.is_dir():
        return
    private_dir(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, PRIVATE_DIR)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, PRIVATE_FILE)


def configure_dlt() -> None:
    """The dlt settings every pipeline of this project runs with (process-wide, idempotent)."""
    import dlt

    dlt.config["load.delete_completed_jobs"] = True
    dlt.config["load.truncate_staging_dataset"] = True


def pipeline(pipeline_name: str, destination, dataset_name: str):
    """``dlt.pipeline`` in the private pipelines folder with the at-rest settings applied."""
    import dlt

    from .settings import pipelines_dir

    configure_dlt()
    return dlt.pipeline(pipeline_name=pipeline_name, destination=destination,
                        dataset_name=dataset_name, pipelines_dir=str(pipelines_dir()))


def purge_loaded(pipe) -> int:
    """Delete the loaded (completed or aborted) package folders of ``pipe`` and its last
    trace (a failed step's error text can quote a row), and tighten the modes of its working
    folder; returns how many packages were removed. Pending packages (extracted or
    normalized, not yet loaded) are kept: a rerun resumes from them."""
    working = Path(pipe.working_dir)
    loaded = working / "load" / "loaded"
    (working / TRACE_FILE).unlink(missing_ok=True)
    removed = 0
    if loaded.is_dir():
        for package in loaded.iterdir():
            if package.is_dir():
                shutil.rmtree(package, ignore_errors=True)
                removed += 1
    lock_down_tree(working)
    return removed
