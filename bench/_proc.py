"""Run a command line in a process of its own and measure it there: wall time, CPU time and the
peak resident set of THAT process (``VmHWM`` from ``/proc/<pid>/status``, polled until it exits).

``ru_maxrss`` of a child is not used: Linux keeps it across ``execve``, so a child forked from a
benchmark process that already holds a large district counts those pages as its own (the i-Ready
row once reported 661 MB that way). ``VmHWM`` belongs to the new address space the exec creates.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time


def run_measured(args: list[str], env: dict, timeout: float = 900) -> dict:
    """Returns ``{"seconds", "peak_mb", "cpu_seconds", "returncode", "output"}``."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda name=name, pipe=pipe: chunks.__setitem__(name, pipe.read()),
                                daemon=True) for name, pipe in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    high_water = [0.0]

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while proc.returncode is None:
                with open(f"/proc/{proc.pid}/status") as status_file:
                    for line in status_file:
                        if line.startswith("VmHWM:"):
                            high_water[0] = max(high_water[0], int(line.split()[1]) / 1024)
                time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    deadline = threading.Timer(timeout, proc.kill)
    deadline.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        deadline.cancel()
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=5)
    output = (chunks.get("out", b"") + chunks.get("err", b"")[-3000:]).decode(errors="replace")
    return {"seconds": seconds, "peak_mb": high_water[0] or float("nan"),
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "returncode": proc.returncode, "output": output}
