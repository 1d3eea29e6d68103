"""Working folders are private (common/at_rest.py, common/settings.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dlt_pipelines import cli as dispatcher
from dlt_pipelines.common import at_rest, settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_local_and_pipelines_dirs_are_made_private_even_when_they_existed_open(tmp_path, monkeypatch):
    local, dlt_dir = tmp_path / "local", tmp_path / "dlt"
    local.mkdir(mode=0o755)
    os.chmod(local, 0o755)
    monkeypatch.setenv("SCHOOLDATA_LOCAL_DIR", str(local))
    monkeypatch.setenv("SCHOOLDATA_PIPELINES_DIR", str(dlt_dir))
    assert settings.local_dir() == local and mode(local) == 0o700
    assert settings.pipelines_dir() == dlt_dir and mode(dlt_dir) == 0o700
    monkeypatch.delenv("SCHOOLDATA_PIPELINES_DIR")
    assert settings.pipelines_dir() == local / "dlt" and mode(local / "dlt") == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a folder to another user")
def test_local_dir_stays_traversable_for_an_embedded_server_run_by_another_user(tmp_path, monkeypatch):
    local = tmp_path / "local"
    (local / "pg").mkdir(parents=True)
    os.chown(local / "pg", 65534, 65534)
    monkeypatch.setenv("SCHOOLDATA_LOCAL_DIR", str(local))
    settings.local_dir()
    assert mode(local) == 0o711  # others can pass to pg, but not list or read .local


def test_lock_down_tree_makes_folders_0700_and_files_0600(tmp_path):
    root = tmp_path / "w"
    (root / "load" / "loaded" / "123").mkdir(parents=True)
    (root / "load" / "loaded" / "123" / "schema.json").write_text("{}")
    (root / "state.json").write_text("{}")
    for path in (root, root / "load", root / "state.json"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    at_rest.lock_down_tree(root)
    assert {mode(p) for p in [root, *root.rglob("*")] if p.is_dir()} == {0o700}
    assert {mode(p) for p in root.rglob("*") if p.is_file()} == {0o600}


def test_the_command_line_creates_private_files_and_restores_the_umask(tmp_path):
    # a real command that writes files: dbt parse through the CLI (reads the profile, never connects)
    target = tmp_path / "target"
    env = {**os.environ, "PGHOST": "127.0.0.1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("WAREHOUSE_DSN", None)
    proc = subprocess.run([sys.executable, "-m", "dlt_pipelines", "dbt", "parse",
                           "--target-path", str(target), "--log-path", str(target), "--no-partial-parse"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert mode(target) == 0o700 and mode(target / "manifest.json") == 0o600

    before = os.umask(0o022)
    try:
        manifest = tmp_path / "m.json"
        manifest.write_text('{"nodes": {}, "sources": {}}')
        assert dispatcher.run(["pii-check", "--manifest", str(manifest)]) == 0
        assert os.umask(0o022) == 0o022  # the test process got its umask back
    finally:
        os.umask(before)
