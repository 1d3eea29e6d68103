"""``python -m dlt_pipelines db up|down|status|env|roles``.

``env`` prints the PG* exports, password included, for the OS user who owns the embedded
database (that is its purpose: ``eval "$(make -s db-env)"``); ``env --role analyst`` prints
those of a login role instead. ``roles`` creates the least-privilege roles and applies the
database privileges (docs/security.md).
"""

from __future__ import annotations

import argparse
import json
import shlex

from dlt_pipelines.common import embedded_pg, roles, warehouse


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines db")
    parser.add_argument("action", choices=["up", "down", "status", "env", "roles"])
    parser.add_argument("--role", choices=list(roles.ROLES),
                        help="env: connect as this login role of the embedded database")
    args = parser.parse_args(argv)
    if args.action == "up":
        wh = warehouse.resolve()
        print(f"warehouse ready: {wh.describe()}")
    elif args.action == "down":
        stopped = embedded_pg.stop()
        print("embedded Postgres stopped" if stopped else "embedded Postgres was not running")
    elif args.action == "status":
        print(json.dumps(embedded_pg.status(), indent=2))
    elif args.action == "roles":
        wh = warehouse.resolve()
        embedded = wh.origin == "embedded"
        srv = embedded_pg.server()
        passwords = roles.embedded_passwords(srv) if embedded else None
        report = roles.setup(wh, passwords)
        print(f"warehouse: {wh.describe()}")
        for line in report.lines():
            print(line)
        if embedded:
            print(f"login passwords: {srv.auth_dir}/<role>.password (0600); "
                  "connect as one: eval \"$(python -m dlt_pipelines db env --role analyst)\"")
        else:
            print("the roles are NOLOGIN groups: GRANT them to login users (docs/security.md)")
        if report.warnings:
            return 1
    else:
        # For `eval "$(make -s db-env)"`: lets analysts run dbt/psql directly.
        wh = warehouse.resolve(role=args.role)
        for key, value in wh.libpq_env().items():
            print(f"export {key}={shlex.quote(value)}")
    return 0
