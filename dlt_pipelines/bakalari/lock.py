"""A non-blocking file lock: an overlapping sync exits at once instead of queueing.

``flock`` locks belong to the open file, so they work across processes (cron runs) and are
released by the kernel if the holder dies; a stale lock file on disk is harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from dlt_pipelines.common.errors import LockBusyError


@contextlib.contextmanager
def exclusive(path: Path, what: str = "Bakaláři sync"):
    handle = open(path, "a+")  # noqa: SIM115 -- held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()[:40]
            raise LockBusyError(
                f"Another {what} is running{f' (pid {holder})' if holder else ''}; this run exits "
                "without doing anything.",
                f"nothing to do: the next scheduled run picks up the changes (lock file: {path}).",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
