"""The shared resilient HTTP client, against httpx's mock transport."""

from __future__ import annotations

import socket

import httpx
import pytest

from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.http import (
    CircuitOpenError,
    RateLimiter,
    ResilientClient,
    RetryPolicy,
    parse_retry_after,
)


def make_client(handler, **kwargs):
    sleeps: list[float] = []
    client = ResilientClient(
        "http://sim.test/root", transport=httpx.MockTransport(handler), rate_limit_per_minute=None,
        sleep=sleeps.append, **kwargs,
    )
    return client, sleeps


def test_retries_5xx_then_succeeds():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(503) if len(calls) < 3 else httpx.Response(200, json=[1, 2])

    client, sleeps = make_client(handler)
    response, parsed = client.request("GET", "/api/x", parse=lambda r: r.json())
    assert parsed == [1, 2]
    assert len(calls) == 3
    assert client.requests == 3 and client.retries == 2
    assert len(sleeps) == 2


def test_honours_retry_after_on_429():
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "7"})
        return httpx.Response(200, json={})

    client, sleeps = make_client(handler)
    client.request("GET", "/x", parse=lambda r: r.json())
    assert sleeps[0] >= 7


def test_malformed_body_is_retried():
    bodies = [b'[{"a": 1', b'[{"a": 1}]']

    def handler(request):
        return httpx.Response(200, content=bodies.pop(0))

    client, _ = make_client(handler)
    _, parsed = client.request("GET", "/x", parse=lambda r: r.json())
    assert parsed == [{"a": 1}]
    assert client.retries == 1


def test_dropped_connection_is_retried():
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json=[])

    client, _ = make_client(handler)
    _, parsed = client.request("GET", "/x", parse=lambda r: r.json())
    assert parsed == [] and state["n"] == 2


def test_gives_up_after_max_attempts():
    client, sleeps = make_client(lambda r: httpx.Response(500),
                                 policy=RetryPolicy(max_attempts=3, breaker_threshold=100))
    with pytest.raises(CircuitOpenError, match="after 3 attempts"):
        client.request("GET", "/x")
    assert client.requests == 3 and len(sleeps) == 2


def test_circuit_breaker_counts_across_requests():
    client, _ = make_client(lambda r: httpx.Response(502),
                            policy=RetryPolicy(max_attempts=3, breaker_threshold=5))
    with pytest.raises(CircuitOpenError):
        client.request("GET", "/a")
    with pytest.raises(CircuitOpenError, match="consecutive"):
        client.request("GET", "/b")
    assert client.requests == 5


def test_non_retryable_status_is_returned_to_caller():
    client, sleeps = make_client(lambda r: httpx.Response(401, json={"Message": "bad cert"}))
    response, parsed = client.request("GET", "/x", parse=lambda r: r.json())
    assert response.status_code == 401 and parsed is None and not sleeps


def test_dns_failure_is_critical_and_immediate():
    def handler(request):
        raise httpx.ConnectError("dns") from socket.gaierror(-2, "Name or service not known")

    client, sleeps = make_client(handler)
    with pytest.raises(OperatorError, match="could not be found"):
        client.request("GET", "/x")
    assert client.requests == 1 and not sleeps


def test_parse_retry_after_forms():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_rate_limiter_spaces_requests():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(60, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    # 60 a minute = one a second: the first goes at once, the next three wait a second each.
    assert slept == [1.0, 1.0, 1.0]
    assert RateLimiter(0).interval == 0
