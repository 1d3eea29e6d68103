"""What the operations service keeps in ``ops``: API tokens (hashed), the webhook event ids
already taken, and the dead-letter queue (bodies AES-256-GCM encrypted with the rejects key).

A token is shown once, when created; only its SHA-256 is stored (a token is 256 random bits, so a
plain hash cannot be brute-forced, and lookups stay one indexed equality).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dlt_pipelines.common import rejects_key
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import register_secret

ROLES = ("operator", "viewer")
TOKEN_PREFIX = "sdo_"
WEBHOOK_SOURCE = "aeries_webhook"

DDL = """
create schema if not exists ops;
create table if not exists ops.api_tokens (
    token_id text primary key,
    name text not null,
    role text not null check (role in ('operator', 'viewer')),
    token_sha256 text not null unique,
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);
create table if not exists ops.webhook_events (
    event_id text primary key,
    source text not null,
    received_at timestamptz not null default now(),
    outcome text not null check (outcome in ('landed', 'dead_letter'))
);
create table if not exists ops.webhook_dead_letters (
    dead_letter_id bigserial primary key,
    source text not null,
    event_id text,
    reason text not null,
    body_sha256 text not null unique,
    body_encrypted bytea not null,
    key_id text not null,
    received_at timestamptz not null default now(),
    replayed_at timestamptz
);
"""


def ensure_tables(warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('ops.ddl'))")
        cur.execute(DDL)


# -- tokens -------------------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    token_id: str
    name: str
    role: str


def create_token(name: str, role: str, warehouse: wh.Warehouse | None = None) -> tuple[Token, str]:
    if role not in ROLES:
        raise OperatorError(f"Unknown role {role!r}.", f"choose one of {', '.join(ROLES)}.")
    ensure_tables(warehouse)
    token_id = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    register_secret(secret)
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "insert into ops.api_tokens (token_id, name, role, token_sha256) values (%s, %s, %s, %s)",
            (token_id, name, role, hash_token(secret)),
        )
    return Token(token_id, name, role), secret


def list_tokens(warehouse: wh.Warehouse | None = None) -> list[dict[str, Any]]:
    ensure_tables(warehouse)
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "select token_id, name, role, created_at, last_used_at, revoked_at from ops.api_tokens"
            " order by created_at"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def revoke_token(token_id: str, warehouse: wh.Warehouse | None = None) -> None:
    ensure_tables(warehouse)
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "update ops.api_tokens set revoked_at = now() where token_id = %s and revoked_at is null"
            " returning token_id",
            (token_id,),
        )
        if cur.fetchone() is None:
            raise OperatorError(
                f"No active token has the id {token_id!r}.",
                "list them with `python -m dlt_pipelines tokens list`.",
            )


def authenticate(secret: str, warehouse: wh.Warehouse | None = None) -> Token | None:
    """The active token whose hash matches, or None."""
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "update ops.api_tokens set last_used_at = now() where token_sha256 = %s"
            " and revoked_at is null returning token_id, name, role",
            (hash_token(secret),),
        )
        row = cur.fetchone()
    if row is None:
        return None
    register_secret(secret)
    return Token(*row)


# -- webhook events and the dead-letter queue ----------------------------------------------
def claim_event(cur, event_id: str, outcome: str) -> bool:
    """Record the event id; False when it was taken before (a duplicate delivery)."""
    cur.execute(
        "insert into ops.webhook_events (event_id, source, outcome) values (%s, %s, %s)"
        " on conflict (event_id) do nothing returning event_id",
        (event_id, WEBHOOK_SOURCE, outcome),
    )
    return cur.fetchone() is not None


def _aad(body_sha256: str) -> bytes:
    return f"ops.webhook_dead_letters|{body_sha256}".encode()


def dead_letter(
    body: bytes, reason: str, event_id: str | None, warehouse: wh.Warehouse | None = None
) -> int | None:
    """Keep a signed body the service could not take, encrypted, with the reason; the id (None when
    the same body is already queued)."""
    key = rejects_key.load_key(create=True)
    digest = hashlib.sha256(body).hexdigest()
    blob = rejects_key.encrypt(key, body.decode("utf-8", errors="replace"), _aad(digest))
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "insert into ops.webhook_dead_letters (source, event_id, reason, body_sha256, body_encrypted,"
            " key_id) values (%s, %s, %s, %s, %s, %s) on conflict (body_sha256) do nothing"
            " returning dead_letter_id",
            (WEBHOOK_SOURCE, event_id, reason, digest, blob, key.key_id),
        )
        row = cur.fetchone()
    return row[0] if row else None


def dead_letters(
    warehouse: wh.Warehouse | None = None, include_replayed: bool = False
) -> list[dict[str, Any]]:
    ensure_tables(warehouse)
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "select dead_letter_id, source, event_id, reason, received_at, replayed_at"
            " from ops.webhook_dead_letters"
            + ("" if include_replayed else " where replayed_at is null")
            + " order by dead_letter_id"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def dead_letter_body(dead_letter_id: int, warehouse: wh.Warehouse | None = None) -> bytes:
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "select body_sha256, body_encrypted from ops.webhook_dead_letters where dead_letter_id = %s",
            (dead_letter_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise OperatorError(
            f"No dead letter has the id {dead_letter_id}.",
            "list them with `python -m dlt_pipelines dead-letters list`.",
        )
    text = rejects_key.decrypt(rejects_key.load_key(), row[1], _aad(row[0]))
    return text.encode("utf-8")


def mark_replayed(dead_letter_id: int, warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "update ops.webhook_dead_letters set replayed_at = now() where dead_letter_id = %s",
            (dead_letter_id,),
        )


def update_reason(dead_letter_id: int, reason: str, warehouse: wh.Warehouse | None = None) -> None:
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "update ops.webhook_dead_letters set reason = %s where dead_letter_id = %s",
            (reason, dead_letter_id),
        )


def purge(
    ids: list[int] | None,
    older_than: datetime | None,
    replayed_only: bool,
    warehouse: wh.Warehouse | None = None,
) -> int:
    ensure_tables(warehouse)
    clauses, params = [], []
    if ids:
        clauses.append("dead_letter_id = any(%s)")
        params.append(ids)
    if older_than is not None:
        clauses.append("received_at < %s")
        params.append(older_than)
    if replayed_only:
        clauses.append("replayed_at is not null")
    with wh.cursor(warehouse) as cur:
        cur.execute(
            "delete from ops.webhook_dead_letters" + (" where " + " and ".join(clauses) if clauses else ""),
            params,
        )
        return cur.rowcount
