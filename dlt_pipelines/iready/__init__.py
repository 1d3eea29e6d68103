"""dlt source for Curriculum Associates i-Ready "Diagnostic Results" exports.

``iready(checked_files, reject, loaded_at)`` yields one resource, ``diagnostic_results``,
as Arrow tables in canonical columns (docs/iready.md). Each file's rows replace what that
file loaded before (merge, delete-insert on ``source_file``), in one transaction. Which
files to load (new or changed, header valid) is decided by ``dlt_pipelines.iready.pipeline``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt

from .files import Checked, read_rows

RESOURCE = "diagnostic_results"
DATASET = "raw_iready"
PIPELINE_NAME = "iready"

Reject = Callable[[Checked, int, str | None, str, dict], None]
Progress = Callable[[Checked], None]


@dlt.source(name="iready", max_table_nesting=0)
def iready(checked_files: Sequence[Checked], reject: Reject, loaded_at: datetime,
           chunk_rows: int = 5_000, on_file_done: Progress | None = None) -> Any:
    @dlt.resource(
        name=RESOURCE,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key="source_file",
        columns={"student_id": {"nullable": False}, "source_file": {"nullable": False}},
    )
    def diagnostic_results() -> Iterator[Any]:
        for checked in checked_files:
            def on_reject(line: int, column: str | None, reason: str, record: dict,
                          _checked: Checked = checked) -> None:
                reject(_checked, line, column, reason, record)

            yield from read_rows(checked, on_reject, chunk_rows=chunk_rows, loaded_at=loaded_at)
            if on_file_done:
                on_file_done(checked)

    return diagnostic_results
