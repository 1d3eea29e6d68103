"""``python -m dlt_pipelines simulate``: serve the synthetic district until Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import threading
from pathlib import Path

from dlt_pipelines.common.settings import local_dir

from .stack import StackConfig, start_stack


def main(argv: list[str]) -> int:
    defaults = StackConfig.from_env()
    parser = argparse.ArgumentParser(prog="python -m dlt_pipelines simulate")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--schools", type=int, default=defaults.n_schools)
    parser.add_argument("--students-per-school", type=int, default=defaults.students_per_school)
    parser.add_argument("--iready-dir", default=str(local_dir() / "simulate" / "iready"))
    parser.add_argument("--aeries-export-dir", default=str(local_dir() / "simulate" / "aeries"),
                        help="where the Aeries CSV exports of the same district are written")
    args = parser.parse_args(argv)
    config = StackConfig(seed=args.seed, n_schools=args.schools,
                         students_per_school=args.students_per_school)
    stack = start_stack(config, iready_dir=Path(args.iready_dir),
                        aeries_export_dir=Path(args.aeries_export_dir))
    print("# simulators running; in another shell:")
    for key, value in stack.source_env().items():
        print(f"export {key}={shlex.quote(value)}")
    print("# then e.g. `make extract`. Ctrl-C stops the simulators.", flush=True)
    try:
        threading.Event().wait()
    finally:
        stack.stop()
    return 0
