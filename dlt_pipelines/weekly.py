"""``python -m dlt_pipelines weekly``: see :mod:`dlt_pipelines.schedule`."""

from __future__ import annotations

from dlt_pipelines.schedule import run


def main(argv: list[str]) -> int:
    return run("weekly", argv)
