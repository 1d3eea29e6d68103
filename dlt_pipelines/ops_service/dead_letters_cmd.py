"""`python -m dlt_pipelines dead-letters`: list, replay, purge."""

from .cli import dead_letters


def main(argv: list[str]) -> int:
    return dead_letters(argv)
