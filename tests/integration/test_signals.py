"""A killed wrapper ends its children: the CLI forwards SIGTERM to dbt and exits 143; a CLI killed
outright (SIGKILL) takes dbt with it; killing `make` ends the CLI and dbt. Nothing keeps writing
on its own. dbt's long-running `docs serve` stands in for a long build."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "target").mkdir()
    return {**os.environ, "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs"),
            "SCHOOLDATA_DBT_SOURCES": "aeries,iready,bakalari"}


def _dbt_child(root: psutil.Process, timeout: float = 60) -> psutil.Process:
    """The dbt process somewhere below ``root``, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in root.children(recursive=True):
            try:
                if any(part.endswith("/dbt") for part in child.cmdline()[:2]):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    raise AssertionError("dbt never started below the wrapper")


def _gone(proc: psutil.Process, timeout: float = 20) -> bool:
    try:
        proc.wait(timeout=timeout)
        return True
    except psutil.TimeoutExpired:
        proc.kill()
        return False


def _serve(port: int) -> list[str]:
    return [sys.executable, "-m", "dlt_pipelines", "dbt", "docs", "serve", "--port", str(port),
            "--host", "127.0.0.1", "--no-browser"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_stopped_or_killed_cli_ends_its_dbt_child(fresh_db, tmp_path, sig):
    wrapper = subprocess.Popen(_serve(_free_port()), cwd=REPO, env=_env(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        dbt = _dbt_child(psutil.Process(wrapper.pid))
        time.sleep(1)
        wrapper.send_signal(sig)
        assert _gone(dbt), "dbt outlived its wrapper"
        status = wrapper.wait(timeout=20)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    if sig == signal.SIGTERM:
        assert status == 128 + signal.SIGTERM
        assert "stopped by SIGTERM" in wrapper.stderr.read()
    else:
        assert status == -signal.SIGKILL


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_killing_make_ends_the_cli_and_dbt(fresh_db, tmp_path, sig):
    # make forwards SIGTERM itself; SIGKILL it cannot, and the CLI's parent-death signal acts
    make = subprocess.Popen(["make", "-s", "docs-serve", f"DOCS_PORT={_free_port()}"], cwd=REPO,
                            env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        dbt = _dbt_child(psutil.Process(make.pid))
        cli = [p for p in psutil.Process(make.pid).children(recursive=True)
               if "dlt_pipelines" in " ".join(p.cmdline())]
        assert cli, "make started the CLI"
        time.sleep(1)
        make.send_signal(sig)
        make.wait(timeout=20)
        assert all(_gone(p) for p in cli), "the CLI outlived make"
        assert _gone(dbt), "dbt outlived make"
    finally:
        if make.poll() is None:
            make.kill()
