"""`python -m dlt_pipelines tokens`: create, list and revoke API tokens."""

from .cli import tokens


def main(argv: list[str]) -> int:
    return tokens(argv)
