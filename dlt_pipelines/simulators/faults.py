"""Fault injection for the simulators, set per server and changeable at run time.

Rates are fractions of requests (0.0-1.0). Draws come from a seeded generator so a test
run with the same seed sees the same sequence of faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields


@dataclass
class FaultSettings:
    error_rate: float = 0.0        # 503 with a JSON error body
    rate_limit_rate: float = 0.0   # 429 with Retry-After
    retry_after_seconds: int = 1
    latency_ms: int = 0            # added to every response
    timeout_rate: float = 0.0      # stall for `timeout_seconds`, then answer (client times out)
    timeout_seconds: float = 5.0
    drop_rate: float = 0.0         # close the connection without a response
    malformed_rate: float = 0.0    # 200 with a truncated JSON body
    not_found_rate: float = 0.0    # 404 with a JSON message, as Aeries sends for a missing object
    empty_rate: float = 0.0        # 200 with an empty JSON array (a server that lost its data)
    path_contains: str = ""        # inject only on request paths containing this (case-sensitive)
    reject_credentials: bool = False  # every authenticated request is refused
    seed: int = 7

    @classmethod
    def from_mapping(cls, values: dict) -> FaultSettings:
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**values)


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject."""

    def __init__(self, settings: FaultSettings | None = None):
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())
        self.injected: dict[str, int] = {}

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)

    def draw(self, path: str = "") -> str | None:
        """One of 'error', 'rate_limit', 'timeout', 'drop', 'malformed', 'not_found', 'empty' or None."""
        with self._lock:
            s = self.settings
            if s.path_contains and s.path_contains not in path:
                return None
            roll = self._rng.random()
            for name, rate in (("error", s.error_rate), ("rate_limit", s.rate_limit_rate),
                               ("timeout", s.timeout_rate), ("drop", s.drop_rate),
                               ("malformed", s.malformed_rate), ("not_found", s.not_found_rate),
                               ("empty", s.empty_rate)):
                if roll < rate:
                    self.injected[name] = self.injected.get(name, 0) + 1
                    return name
                roll -= rate
            return None
