"""Deterministic synthetic school data served over real HTTP on loopback.

No real school data exists in this project: the demo and the tests run against these
simulators, which follow the documented shapes and quirks of the real APIs.
"""
