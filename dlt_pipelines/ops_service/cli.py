"""Command lines of the operations service.

``python -m dlt_pipelines serve [--host 127.0.0.1] [--port 8090]``
``python -m dlt_pipelines tokens create --role operator|viewer [--name NAME] | list | revoke TOKEN_ID``
``python -m dlt_pipelines dead-letters list [--all] | replay (ID... | --all)``
``python -m dlt_pipelines dead-letters purge (ID... | --replayed | --older-than-days N | --all)``
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.errors import ConfigError, OperatorError

from . import store

DEFAULT_PORT = 8090


def serve(argv: list[str]) -> int:
    import os

    import uvicorn

    from .app import create_app

    p = argparse.ArgumentParser(
        prog="python -m dlt_pipelines serve", description="Serve the operations API, webhooks and /metrics."
    )
    p.add_argument(
        "--host",
        default=os.environ.get("SCHOOLDATA_SERVE_HOST", "127.0.0.1"),
        help="address to bind (default 127.0.0.1: put a TLS reverse proxy in front)",
    )
    p.add_argument("--port", type=int, default=int(os.environ.get("SCHOOLDATA_SERVE_PORT", DEFAULT_PORT)))
    args = p.parse_args(argv)
    warehouse = wh.resolve()
    store.ensure_tables(warehouse)
    # access_log off: the JSON logs say what matters and a query string never reaches a log
    uvicorn.run(
        create_app(warehouse),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    return 0


def tokens(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dlt_pipelines tokens", description="API tokens of the service."
    )
    sub = p.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a token (printed once; only its hash is kept)")
    create.add_argument("--role", required=True, choices=store.ROLES)
    create.add_argument("--name", default="", help="who or what uses it (e.g. grafana, jane)")
    sub.add_parser("list", help="list tokens (ids, names, roles; never the tokens)")
    revoke = sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    args = p.parse_args(argv)
    if args.action == "create":
        token, secret = store.create_token(args.name or args.role, args.role)
        print(
            json.dumps(
                {"token_id": token.token_id, "name": token.name, "role": token.role, "token": secret},
                indent=2,
            )
        )
        print("The token is shown once: keep it in a password manager.", file=sys.stderr)
    elif args.action == "list":
        print(json.dumps(store.list_tokens(), default=str, indent=2))
    else:
        store.revoke_token(args.token_id)
        print(json.dumps({"token_id": args.token_id, "revoked": True}))
    return 0


def dead_letters(argv: list[str]) -> int:
    from . import webhooks

    p = argparse.ArgumentParser(
        prog="python -m dlt_pipelines dead-letters",
        description="The webhook dead-letter queue: signed events the service could not take.",
    )
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="waiting dead letters with their reasons (never their contents)")
    ls.add_argument("--all", action="store_true", help="include replayed ones")
    replay = sub.add_parser("replay", help="process dead letters again after a fix")
    replay.add_argument("ids", nargs="*", type=int)
    replay.add_argument("--all", action="store_true", help="every waiting dead letter")
    purge = sub.add_parser("purge", help="delete dead letters")
    purge.add_argument("ids", nargs="*", type=int)
    purge.add_argument("--replayed", action="store_true", help="only those already replayed")
    purge.add_argument("--older-than-days", type=int, default=None)
    purge.add_argument("--all", action="store_true", help="every dead letter")
    args = p.parse_args(argv)
    if args.action == "list":
        print(json.dumps(store.dead_letters(include_replayed=args.all), default=str, indent=2))
        return 0
    if args.action == "replay":
        ids = [d["dead_letter_id"] for d in store.dead_letters()] if args.all else args.ids
        if not ids:
            raise ConfigError(
                "No dead letter to replay was named.", "pass ids from `dead-letters list`, or --all."
            )
        results = []
        for dead_letter_id in ids:
            outcome = webhooks.replay(dead_letter_id)
            results.append({"dead_letter_id": dead_letter_id, **outcome.body})
        print(json.dumps(results, indent=2))
        return 0 if all(r.get("status") in ("landed", "duplicate") for r in results) else 1
    if not (args.ids or args.replayed or args.older_than_days is not None or args.all):
        raise OperatorError(
            "purge needs to know what to delete.", "pass ids, --replayed, --older-than-days N, or --all."
        )
    older = (
        datetime.now(UTC) - timedelta(days=args.older_than_days) if args.older_than_days is not None else None
    )
    removed = store.purge(args.ids or None, older, args.replayed)
    print(json.dumps({"purged": removed}))
    return 0
