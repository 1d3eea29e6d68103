"""Signed Aeries attendance webhooks: signature, replay window, once-only event ids, dead letters.

The sender signs the raw body: header ``X-Schooldata-Signature: sha256=<hex HMAC-SHA256 of the
body with AERIES_WEBHOOK_SECRET>``. The body's ``sent_at`` (inside the signed bytes) must be within
5 minutes of the service's clock.

* bad or missing signature: 401, nothing stored;
* signed, but ``sent_at`` more than 5 minutes away: 401 (a replay), nothing stored;
* signed, an event id already taken: 200 ``duplicate``, nothing stored again;
* signed but unparseable or unsupported: 202 ``dead_letter`` with the reason, the body kept
  encrypted in ``ops.webhook_dead_letters`` (``python -m dlt_pipelines dead-letters``);
* valid: landed in ``raw_aeries.attendance_events`` by dlt, 200 ``landed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dlt_pipelines.aeries import events
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.errors import ConfigError
from dlt_pipelines.common.logs import event, get_logger, register_secret

from . import store

SECRET_ENV = "AERIES_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Schooldata-Signature"
MAX_SKEW = timedelta(minutes=5)

log = get_logger("webhooks")


def webhook_secret() -> bytes:
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise ConfigError(
            f"{SECRET_ENV} is not set (or shorter than 16 characters).",
            f"set {SECRET_ENV} to the secret shared with Aeries, e.g. `openssl rand -hex 32`.",
        )
    register_secret(secret)
    return secret.encode()


def sign(body: bytes, secret: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str | None, secret: bytes) -> bool:
    return bool(header) and hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


@dataclass
class Outcome:
    status: int
    body: dict


def process(
    body: bytes,
    signature: str | None,
    secret: bytes,
    *,
    now: datetime | None = None,
    warehouse: wh.Warehouse | None = None,
    check_time: bool = True,
) -> Outcome:
    """Judge one delivery (see the module doc). ``check_time`` is off for a dead-letter replay:
    the body was signed and fresh when it first arrived."""
    if not signature_ok(body, signature, secret):
        event(log, "webhook_refused", reason="bad signature")
        return Outcome(401, {"error": "unauthorized", "detail": "missing or invalid signature"})
    now = now or datetime.now(UTC)
    try:
        payload = json.loads(body)
    except ValueError:
        return _dead_letter(body, "the body is not JSON", None, warehouse)
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    event_id = event_id if isinstance(event_id, str) else None
    if check_time:
        try:
            sent_at = events.parse_timestamp(
                payload.get("sent_at") if isinstance(payload, dict) else None, "sent_at"
            )
        except events.EventError as exc:
            return _dead_letter(body, exc.reason, event_id, warehouse)
        if abs(now - sent_at) > MAX_SKEW:
            event(log, "webhook_refused", reason="stale timestamp")
            return Outcome(
                401,
                {
                    "error": "unauthorized",
                    "detail": "sent_at is more than 5 minutes away from the server's clock",
                },
            )
    try:
        change = events.parse_event(payload)
        with wh.cursor(warehouse) as cur:
            events.check_known_code(cur, change)
    except events.EventError as exc:
        return _dead_letter(body, exc.reason, event_id, warehouse)
    with wh.cursor(warehouse) as cur:
        if not store.claim_event(cur, change.event_id, "landed"):
            event(log, "webhook_duplicate", event_id=change.event_id)
            return Outcome(200, {"status": "duplicate", "event_id": change.event_id})
        # the claim commits with the load: a failed load frees the id for the sender's retry
        try:
            events.land([change], now, warehouse)
        except Exception:
            cur.connection.rollback()
            raise
    event(
        log,
        "webhook_landed",
        event_id=change.event_id,
        school_code=change.school_code,
        calendar_date=change.calendar_date,
    )
    return Outcome(200, {"status": "landed", "event_id": change.event_id})


def _dead_letter(body: bytes, reason: str, event_id: str | None, warehouse) -> Outcome:
    dead_letter_id = store.dead_letter(body, reason, event_id, warehouse)
    event(log, "webhook_dead_letter", reason=reason, dead_letter_id=dead_letter_id)
    return Outcome(202, {"status": "dead_letter", "reason": reason, "dead_letter_id": dead_letter_id})


def replay(dead_letter_id: int, warehouse: wh.Warehouse | None = None) -> Outcome:
    """Process a dead letter again (after a fix); marks it replayed when it lands or was a duplicate."""
    secret = webhook_secret()
    body = store.dead_letter_body(dead_letter_id, warehouse)
    # the stored body is trusted (it was signed on arrival): sign it here to reuse one code path
    outcome = _process_stored(body, secret, warehouse)
    if outcome.body.get("status") in ("landed", "duplicate"):
        store.mark_replayed(dead_letter_id, warehouse)
    elif outcome.body.get("status") == "dead_letter":
        store.update_reason(dead_letter_id, outcome.body["reason"], warehouse)
    return outcome


def _process_stored(body: bytes, secret: bytes, warehouse) -> Outcome:
    try:
        payload = json.loads(body)
        change = events.parse_event(payload)
        with wh.cursor(warehouse) as cur:
            events.check_known_code(cur, change)
    except ValueError as exc:
        reason = exc.reason if isinstance(exc, events.EventError) else "the body is not JSON"
        return Outcome(202, {"status": "dead_letter", "reason": reason})
    return process(body, sign(body, secret), secret, warehouse=warehouse, check_time=False)
