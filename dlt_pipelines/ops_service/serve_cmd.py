"""`python -m dlt_pipelines serve`: the operations service (uvicorn)."""

from .cli import serve


def main(argv: list[str]) -> int:
    return serve(argv)
