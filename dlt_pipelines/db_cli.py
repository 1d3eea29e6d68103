"""``python -m dlt_pipelines db up|down|status|env``."""

from __future__ import annotations

import argparse
import json
import shlex

from dlt_pipelines.common import embedded_pg, warehouse


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines db")
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    args = parser.parse_args(argv)
    if args.action == "up":
        wh = warehouse.resolve()
        print(f"warehouse ready: {wh.describe()}")
    elif args.action == "down":
        stopped = embedded_pg.stop()
        print("embedded Postgres stopped" if stopped else "embedded Postgres was not running")
    elif args.action == "status":
        print(json.dumps(embedded_pg.status(), indent=2))
    else:
        # For `eval "$(make -s db-env)"`: lets analysts run dbt/psql directly.
        wh = warehouse.resolve()
        for key, value in wh.libpq_env().items():
            print(f"export {key}={shlex.quote(value)}")
    return 0
