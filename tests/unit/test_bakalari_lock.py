"""The overlap lock as cron meets it: exit status 3 and one clear sentence, no work done."""

from __future__ import annotations

import pytest

from dlt_pipelines.bakalari.lock import exclusive
from dlt_pipelines.bakalari.settings import lock_path
from dlt_pipelines.cli import run
from dlt_pipelines.common.errors import LockBusyError


@pytest.fixture
def bakalari_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SCHOOLDATA_LOCAL_DIR", str(tmp_path))
    # a port nothing listens on: the run must stop at the lock before any request
    monkeypatch.setenv("BAKALARI_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BAKALARI_USERNAME", "zastupce")
    monkeypatch.setenv("BAKALARI_PASSWORD", "heslo-v-testu")
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "9")


def test_overlapping_cli_run_exits_3_with_a_clear_message(bakalari_env, capsys):
    with exclusive(lock_path()):
        status = run(["bakalari"])
    captured = capsys.readouterr()
    assert status == 3
    assert "Another Bakaláři sync is running" in captured.err
    assert captured.out == ""
    assert "heslo-v-testu" not in captured.err


def test_lock_is_exclusive_and_released(tmp_path):
    path = tmp_path / "x.lock"
    with exclusive(path), pytest.raises(LockBusyError), exclusive(path):
        pass
    with exclusive(path):  # free again after the holder left
        pass
