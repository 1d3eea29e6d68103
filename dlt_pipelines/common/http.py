"""Resilient HTTP for every source: rate limit, retries with backoff and jitter that honour
Retry-After, a circuit breaker, and a clean split between transient and critical failures.

Sources wrap :class:`ResilientClient` in their own client module and turn the responses
they consider fatal (401/403, 404 on a base URL) into :class:`OperatorError` messages.
"""

from __future__ import annotations

import email.utils
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from .errors import OperatorError
from .logs import event, get_logger

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Consecutive failed attempts (across requests) before the run gives up.
    breaker_threshold: int = 20


class CircuitOpenError(OperatorError):
    """Too many consecutive failures: stop instead of hammering the server."""


class RetriesExhaustedError(CircuitOpenError):
    """One request failed on every attempt (the breaker may still be closed): the caller can
    give up on that piece of work and go on with the rest."""

    def __init__(self, message: str, fix: str | None = None, reason: str = ""):
        super().__init__(message, fix)
        self.reason = reason


class TransientHTTPError(Exception):
    """A failure worth retrying (timeout, dropped connection, 429, 5xx, garbled body)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RateLimiter:
    """At most ``per_minute`` requests a minute, spaced evenly; 0 or None turns it off."""

    def __init__(self, per_minute: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            self._sleep(delay)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _critical_transport_error(exc: httpx.TransportError, base_url: str) -> OperatorError | None:
    """DNS and TLS failures will not heal by retrying: say so at once."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror) or "Name or service not known" in str(cause) \
                or "nodename nor servname" in str(cause) or "Temporary failure in name" in str(cause):
            return OperatorError(
                f"The host in {base_url} could not be found (DNS lookup failed).",
                "check the base URL setting for this source.",
            )
        if isinstance(cause, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return OperatorError(
                f"The TLS handshake with {base_url} failed.",
                "check that the base URL uses the right scheme and the server certificate is valid.",
            )
        cause = cause.__cause__ or cause.__context__
    return None


class ResilientClient:
    """An ``httpx.Client`` with rate limiting, retries and a circuit breaker.

    ``on_retry`` and ``on_request`` let the caller count requests and retries for the audit.
    """

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None,
                 timeout: float = 30.0, rate_limit_per_minute: float | None = 60,
                 policy: RetryPolicy | None = None, transport: httpx.BaseTransport | None = None,
                 source: str = "http", sleep: Callable[[float], None] = time.sleep,
                 auth: httpx.Auth | None = None):
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.limiter = RateLimiter(rate_limit_per_minute, sleep=sleep)
        self.requests = 0
        self.retries = 0
        self.status_counts: dict[int, int] = {}  # responses by HTTP status (the service's /metrics)
        self._consecutive_failures = 0
        self._sleep = sleep
        self.log = get_logger(source)
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers or {}, timeout=timeout,
            transport=transport, auth=auth, follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ResilientClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = random.uniform(0, min(self.policy.max_delay, self.policy.base_delay * 2 ** attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.max_delay * 4))
        return delay

    def request(self, method: str, path: str, *, parse: Callable[[httpx.Response], object] | None = None,
                retry_statuses: frozenset[int] = frozenset(), **kwargs) -> tuple[httpx.Response, object]:
        """Send with retries. Returns ``(response, parsed)``; ``parsed`` is ``parse(response)``
        for a 2xx response (a parse error counts as a transient failure) and None otherwise.
        Non-retryable statuses are returned for the caller to judge; ``retry_statuses`` adds statuses
        that this call treats as transient (e.g. a 404 on a route that must exist)."""
        last: TransientHTTPError | None = None
        for attempt in range(self.policy.max_attempts):
            self.limiter.wait()
            self.requests += 1
            try:
                response = self.client.request(method, path, **kwargs)
                self.status_counts[response.status_code] = self.status_counts.get(response.status_code, 0) + 1
                if response.status_code in RETRYABLE_STATUS or response.status_code in retry_statuses:
                    raise TransientHTTPError(
                        f"HTTP {response.status_code}",
                        parse_retry_after(response.headers.get("Retry-After")),
                    )
                parsed = None
                if parse is not None and response.is_success:
                    try:
                        parsed = parse(response)
                    except ValueError as exc:
                        raise TransientHTTPError(f"malformed body ({type(exc).__name__})") from None
                self._consecutive_failures = 0
                return response, parsed
            except httpx.TransportError as exc:
                critical = _critical_transport_error(exc, self.base_url)
                if critical:
                    raise critical from None
                last = TransientHTTPError(type(exc).__name__)
            except TransientHTTPError as exc:
                last = exc
            self._consecutive_failures += 1
            if self._consecutive_failures >= self.policy.breaker_threshold:
                raise CircuitOpenError(
                    f"Stopped after {self._consecutive_failures} consecutive failed requests to "
                    f"{self.base_url} (last: {last.reason}).",
                    "the server looks unhealthy; try again later or lower the request rate.",
                )
            if attempt + 1 >= self.policy.max_attempts:
                break
            delay = self._backoff(attempt, last.retry_after)
            self.retries += 1
            event(self.log, "http_retry", path=path.split("?")[0], attempt=attempt + 1,
                  reason=last.reason, delay_seconds=round(delay, 2))
            self._sleep(delay)
        raise RetriesExhaustedError(
            f"Giving up on {path.split('?')[0]} after {self.policy.max_attempts} attempts "
            f"(last: {last.reason if last else 'unknown'}).",
            "check the server's health, then rerun: completed work is kept and resumed.",
            reason=last.reason if last else "unknown",
        )
