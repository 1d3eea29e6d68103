"""Child processes that never outlive the command that started them.

``make nightly`` runs ``python -m dlt_pipelines nightly``, which runs dbt. Killing the wrapper
must end dbt too, or a half-finished build keeps writing on its own:

* a signal the wrapper receives (SIGTERM, SIGINT, SIGHUP) is forwarded to the running child,
  the wrapper waits for it and then exits with the signal's status;
* the child gets SIGTERM from the kernel if the wrapper dies without a chance to forward
  (SIGKILL), through Linux's parent-death signal;
* the CLI asks for the same parent-death signal for itself when ``make`` starts it
  (``SCHOOLDATA_DIE_WITH_PARENT=1``, set by the Makefile), so killing ``make`` ends the CLI.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux; else a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _child_setup() -> None:  # runs in the child between fork and exec
    die_with_parent(signal.SIGTERM)


class Interrupted(Exception):
    """The wrapper was asked to stop; the child has ended. ``status`` is the shell's 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.status = 128 + signum


def run_child(cmd: list[str], *, capture: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` with the guarantees in the module doc. Raises :class:`Interrupted`
    after forwarding a signal and waiting for the child."""
    received: list[int] = []
    proc = subprocess.Popen(cmd, preexec_fn=_child_setup, text=True,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None, **kwargs)

    def forward(signum, _frame):
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, forward) for s in FORWARDED} if main else {}
    try:
        out, err = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise Interrupted(received[0])
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def maybe_die_with_parent() -> None:
    """For the CLI: follow the parent (``make``) when it asks (SCHOOLDATA_DIE_WITH_PARENT=1)."""
    if os.environ.get("SCHOOLDATA_DIE_WITH_PARENT") == "1":
        die_with_parent(signal.SIGTERM)
