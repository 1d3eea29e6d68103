"""What Aeries does when a teacher changes a mark: post a signed attendance change event to the
operations service (``POST /webhooks/aeries/attendance``, docs/ops-service.md).

    from dlt_pipelines.simulators.webhook_sender import change_event, send
    body = change_event(student_id=1001, school_code=101, calendar_date="2025-03-03", to_code="A")
    send("http://127.0.0.1:8090", secret, body)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import httpx

SIGNATURE_HEADER = "X-Schooldata-Signature"


def change_event(*, student_id: int, school_code: int, calendar_date: str, to_code: str, from_code: str = "",
                 period: int | None = None, changed_by: str = "teacher-sim", event_id: str | None = None,
                 sent_at: datetime | None = None, changed_at: datetime | None = None) -> bytes:
    now = datetime.now(UTC)
    payload = {
        "event_id": event_id or f"evt-{uuid.uuid4().hex}",
        "type": "attendance.changed",
        "sent_at": (sent_at or now).isoformat(),
        "change": {"student_id": student_id, "school_code": school_code, "calendar_date": str(calendar_date),
                   "period": period, "from_code": from_code, "to_code": to_code, "changed_by": changed_by,
                   "changed_at": (changed_at or now).isoformat()},
    }
    return json.dumps(payload).encode()


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(base_url: str, secret: str, body: bytes, *, timeout: float = 30.0) -> httpx.Response:
    """Post one signed delivery; the response is returned as is (the caller judges it)."""
    return httpx.post(f"{base_url.rstrip('/')}/webhooks/aeries/attendance", content=body, timeout=timeout,
                      headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(body, secret)})
