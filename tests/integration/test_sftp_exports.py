"""Export files read over SFTP (``sftp://`` through fsspec's ``sshfs``), from a real SSH server on
loopback: asyncssh's own SFTP server, chrooted to a temporary folder, password login. Both file
sources go through the same discovery and the credentials never reach a log or the audit table."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import threading
from datetime import date

import asyncssh
import fsspec
import pytest

from dlt_pipelines.aeries_files.pipeline import Options
from dlt_pipelines.aeries_files.pipeline import run as run_files
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.logs import JsonFormatter
from dlt_pipelines.iready.pipeline import run_iready
from dlt_pipelines.simulators.aeries_api import AeriesSimulator
from dlt_pipelines.simulators.aeries_exports import write_aeries_exports
from dlt_pipelines.simulators.district import District, DistrictConfig
from dlt_pipelines.simulators.iready_exports import StudentRecord, write_exports

pytestmark = pytest.mark.integration
USER, PASSWORD = "drop", "s3cret-sftp-pw"


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)


@pytest.fixture
def sftp_root(tmp_path, monkeypatch):
    """A running SFTP server; yields (root folder on disk, port)."""
    root = tmp_path / "sftp"
    root.mkdir()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        return await asyncssh.create_server(
            _Server, "127.0.0.1", 0, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()))

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    port = server.sockets[0].getsockname()[1]
    # the test server's host key is new every time; a real deployment lists the vendor's in known_hosts
    monkeypatch.setitem(fsspec.config.conf, "sftp", {"known_hosts": None})
    try:
        yield root, port
    finally:
        server.close()
        asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(timeout=30)

        async def end_sessions():  # the per-connection SFTP handlers still waiting for requests
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(end_sessions(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        fsspec.AbstractFileSystem.clear_instance_cache()


def test_both_sources_load_over_sftp_and_never_log_the_password(fresh_db, sftp_root, tmp_path):
    root, port = sftp_root
    roster = [StudentRecord(str(51000 + i), f"Given{i}", f"Surname{i}", 3 + i % 5, "101", "North Middle")
              for i in range(6)]
    iready_paths = write_exports(roster, root / "iready", seed=2, academic_years=("2024-2025",))
    district = District(DistrictConfig(seed=5, n_schools=1, students_per_school=8,
                                       start_date=date(2024, 8, 15), end_date=date(2025, 6, 12)))
    aeries_paths = write_aeries_exports(AeriesSimulator(district, today=date(2024, 8, 30)), root / "aeries")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("schooldata").addHandler(handler)
    try:
        iready = run_iready(f"sftp://{USER}:{PASSWORD}@127.0.0.1:{port}/iready")
        aeries = run_files(Options(f"sftp://{USER}:{PASSWORD}@127.0.0.1:{port}/aeries"))
    finally:
        logging.getLogger("schooldata").removeHandler(handler)
    assert iready.count("loaded") == len(iready_paths) and iready.rows_rejected == 0
    assert aeries.count("loaded") == len(aeries_paths) and aeries.rows_rejected == 0
    with wh.cursor() as cur:
        cur.execute("select count(*) from raw_iready.diagnostic_results")
        assert cur.fetchone()[0] == sum(p.read_bytes().count(b"\n") - 1 for p in iready_paths)
        cur.execute("select count(*) from raw_aeries.students")
        assert cur.fetchone()[0] == 8
        cur.execute("select parameters::text from ops.sync_runs")
        params = " ".join(r[0] for r in cur.fetchall())
    assert "sftp://***@127.0.0.1" in params and PASSWORD not in params
    assert PASSWORD not in stream.getvalue()
    shutil.rmtree(root / "iready")
