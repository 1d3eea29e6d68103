"""``python -m dlt_pipelines dashboard`` (``make dashboard``): serve the dashboards on localhost.

Checks first that the analyst login reaches the warehouse and reads the marts (an operator
mistake is one sentence and its fix), prints the URL, then runs Streamlit with usage statistics
off, the developer toolbar (deploy button) hidden and no file watcher (docs/dashboards.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dlt_pipelines.common import settings, warehouse
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.processes import run_child

from . import connection

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501
# The same settings as .streamlit/config.toml, so they hold from any working folder.
STREAMLIT_FLAGS = {
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "type",
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "global.developmentMode": "false",
}


def url(host: str, port: int) -> str:
    return f"http://{'localhost' if host in ('127.0.0.1', 'localhost') else host}:{port}"


def check(wh: warehouse.Warehouse) -> int:
    """How many marts the login reads; an OperatorError when none."""
    with warehouse.cursor(wh) as cur:
        cur.execute("select count(*) from information_schema.tables where table_schema = %s"
                    " and has_table_privilege(format('%%I.%%I', table_schema, table_name), 'select')",
                    (connection.MARTS,))
        count = cur.fetchone()[0]
    if not count:
        raise OperatorError(f"The dashboards' login {wh.user} reads no table in schema marts of "
                            f"{wh.describe()}.",
                            "build the marts with `make demo` (or `make transform`); on a server, grant "
                            "the analyst role to that login (docs/security.md).")
    return count


def command(host: str, port: int) -> list[str]:
    flags = [f"--{key}={value}" for key, value in STREAMLIT_FLAGS.items()]
    return [sys.executable, "-m", "streamlit", "run", str(APP), f"--server.address={host}",
            f"--server.port={port}", *flags]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines dashboard")
    parser.add_argument("--port", type=int, default=int(settings.env("DASHBOARD_PORT", str(DEFAULT_PORT))))
    parser.add_argument("--host", default=settings.env("DASHBOARD_HOST", "127.0.0.1"),
                        help="listen address (default 127.0.0.1: this machine only)")
    parser.add_argument("--pii", action="store_true",
                        help="add the names page, read as pii_reader (embedded database; DASHBOARD_PII=1)")
    args = parser.parse_args(argv)
    if args.pii:
        os.environ["DASHBOARD_PII"] = "1"
    wh = connection.analyst()
    marts = check(wh)
    if connection.pii_enabled():
        check(connection.pii_reader())
    print(f"dashboards: {url(args.host, args.port)}   (reading {marts} marts as {wh.user}; Ctrl-C stops)",
          flush=True)
    return run_child(command(args.host, args.port), cwd=settings.REPO_ROOT).returncode
