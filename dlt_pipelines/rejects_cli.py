"""``python -m dlt_pipelines rejects``: the rejected rows of ``ops.load_rejects``, decrypted.

    python -m dlt_pipelines rejects decrypt [--run-id RUN] [--source SRC] [--limit N]
    python -m dlt_pipelines rejects key-id

``decrypt`` prints one JSON object per rejected row (newest first) with the payload decrypted:
student data, for an operator holding the rejects key (docs/security.md). It needs the key
the rows were encrypted with (``SCHOOLDATA_REJECTS_KEY``, dlt secrets or ``.local/keys``) and
never creates one. ``key-id`` prints the id of the configured key (not the key).
"""

from __future__ import annotations

import argparse
import json
import sys

from dlt_pipelines.common import rejects_key
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.errors import ConfigError, OperatorError
from dlt_pipelines.common.logs import event, get_logger

log = get_logger("rejects")

COLUMNS = ("reject_id", "run_id", "source", "resource", "file_name", "line_number", "column_name",
           "reason", "rejected_at")


def fetch(warehouse: wh.Warehouse | None, run_id: str | None, source: str | None,
          limit: int) -> list[dict]:
    with wh.cursor(warehouse) as cur:
        cur.execute("select to_regclass('ops.load_rejects')")
        if cur.fetchone()[0] is None:
            raise OperatorError("There is no ops.load_rejects table yet: no pipeline has run here.",
                                "run a pipeline first (e.g. `make extract`).")
        cur.execute(
            f"select {', '.join(COLUMNS)}, record_encrypted, record_key_id from ops.load_rejects"
            " where (%(run)s::text is null or run_id = %(run)s)"
            " and (%(src)s::text is null or source = %(src)s)"
            " order by reject_id desc limit %(limit)s",
            {"run": run_id, "src": source, "limit": limit},
        )
        rows = cur.fetchall()
    return [dict(zip((*COLUMNS, "record_encrypted", "record_key_id"), row, strict=True)) for row in rows]


def decrypt_rows(rows: list[dict], key: rejects_key.RejectsKey) -> list[dict]:
    """The rows with ``record`` decrypted; refuses before decrypting anything when a row was
    encrypted with another key."""
    foreign = sorted({r["record_key_id"] for r in rows
                      if r["record_encrypted"] is not None and r["record_key_id"] != key.key_id})
    if foreign:
        n = sum(1 for r in rows if r["record_key_id"] in foreign)
        raise rejects_key.WrongKeyError(
            f"{n} of these rejected rows were encrypted with key id {', '.join(foreign)}, but the key "
            f"from {key.origin} has id {key.key_id}.",
            f"set {rejects_key.KEY_ENV} to the key the rows were encrypted with (base64, 32 bytes).")
    out = []
    for r in rows:
        blob = r.pop("record_encrypted")
        r.pop("record_key_id")
        aad = rejects_key.associated_data(r["run_id"], r["source"], r["resource"])
        r["record"] = rejects_key.decrypt(key, blob, aad) if blob is not None else None
        out.append(r)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines rejects",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decrypt", help="print rejected rows with their payload decrypted (JSON lines)")
    dec.add_argument("--run-id", help="only this run (ops.sync_runs.run_id)")
    dec.add_argument("--source", help="only this pipeline: aeries, iready or bakalari")
    dec.add_argument("--limit", type=int, default=100, help="at most this many rows, newest first (100)")
    sub.add_parser("key-id", help="print the id of the configured rejects key (not the key)")
    args = parser.parse_args(argv)

    key = rejects_key.load_key(create=False)
    if args.command == "key-id":
        print(f"{key.key_id}  (from {key.origin})")
        return 0
    if args.limit < 1:
        raise ConfigError("--limit must be at least 1.", "pass e.g. --limit 100.")
    rows = decrypt_rows(fetch(None, args.run_id, args.source, args.limit), key)
    for row in rows:
        print(json.dumps(row, default=str, ensure_ascii=False))
    event(log, "rejects_decrypted", rows=len(rows), run_id=args.run_id, source=args.source)
    if not rows:
        print("no rejected rows match", file=sys.stderr)
    return 0
