"""The webhook's signature check and the event contract (no database: process() refuses a bad
signature before touching one)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from dlt_pipelines.aeries.events import EventError, parse_event
from dlt_pipelines.ops_service import webhooks
from dlt_pipelines.simulators.webhook_sender import change_event, signature

SECRET = b"0123456789abcdef0123456789abcdef"


def test_signature_matches_the_simulators_and_rejects_tampering():
    body = change_event(student_id=5, school_code=101, calendar_date="2025-03-03", to_code="A")
    header = signature(body, SECRET.decode())
    assert webhooks.signature_ok(body, header, SECRET)
    assert not webhooks.signature_ok(body + b" ", header, SECRET)
    assert not webhooks.signature_ok(body, header.replace("sha256=", "sha1="), SECRET)
    assert not webhooks.signature_ok(body, None, SECRET)
    assert not webhooks.signature_ok(body, signature(body, "another-secret-entirely"), SECRET)


def test_bad_signature_is_401_before_any_storage():
    # no warehouse is configured for this call: reaching storage would raise
    outcome = webhooks.process(b"{}", "sha256=00", SECRET, warehouse=object())
    assert outcome.status == 401 and outcome.body["error"] == "unauthorized"


def test_parse_event_reads_the_contract():
    payload = json.loads(change_event(student_id=5, school_code=101, calendar_date="2025-03-03", to_code="A",
                                      from_code="", period=3, event_id="e1"))
    change = parse_event(payload)
    assert (change.event_id, change.student_id, change.school_code, change.calendar_date, change.period,
            change.to_code) == ("e1", 5, 101, date(2025, 3, 3), "3", "A")
    assert change.changed_at.tzinfo is not None and change.changed_at <= datetime.now(UTC)


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda p: p.update(type="enrollment.changed"), "unsupported event type"),
    (lambda p: p.pop("event_id"), "event_id"),
    (lambda p: p["change"].update(student_id="5"), "change.student_id"),
    (lambda p: p["change"].update(calendar_date="03/03/2025"), "change.calendar_date"),
    (lambda p: p["change"].update(period="third"), "change.period"),
    (lambda p: p["change"].update(to_code="ABSENT"), "change.to_code"),
    (lambda p: p["change"].update(changed_at="2025-03-03T10:00:00"), "time zone"),
])
def test_parse_event_refuses_with_a_reason_naming_the_field(mutate, reason):
    payload = json.loads(change_event(student_id=5, school_code=101, calendar_date="2025-03-03", to_code="A"))
    mutate(payload)
    with pytest.raises(EventError) as caught:
        parse_event(payload)
    assert reason in caught.value.reason
    assert "03/03/2025" not in caught.value.reason  # never the value itself
