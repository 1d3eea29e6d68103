"""i-Ready export files on the shared file path (:mod:`dlt_pipelines.common.filedrop`): which
names are exports, the header check, and the rows of a file as validated Arrow tables.

Each file is read twice: the shared scan (hash, encoding, quotes, record count; a file that
fails is refused whole before any row is loaded) and this module's header check, then the rows
are parsed into Arrow tables. Loaded + rejected rows must equal the scan's data records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dlt_pipelines.common import filedrop
from dlt_pipelines.common.filedrop import ExportFile, FileRefused, redact_url  # noqa: F401 - re-exported
from dlt_pipelines.common.logs import event, get_logger

from .layouts import HeaderMatch, match_header
from .validation import RowValidator

FILE_PATTERN = re.compile(
    r"^(?:diagnostic_results_(?P<subject>ela|math)"
    r"|i-ready_inform_results_(?P<inform>reading_english|math))(?:_confidential)?(?:[-_.][\w.-]*?)?\.csv$",
    re.IGNORECASE,
)
PROGRESS_EVERY = 50_000
log = get_logger("iready")


@dataclass
class Checked:
    """Result of the first pass over one file."""

    file: ExportFile
    sha256: str = ""
    local_path: str | None = None
    header: HeaderMatch | None = None
    refused: str | None = None  # one-sentence reason when the whole file is refused
    scan: filedrop.Scan | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def export_date(self) -> date | None:
        return self.file.name_date

    @property
    def as_of(self) -> date | None:
        """How recent the export is, from its own name or content (never the file's mtime): the
        date in its name, else its latest completion date."""
        return self.file.name_date or self.outcome.get("latest_completion")


def classify(name: str) -> str | None:
    m = FILE_PATTERN.match(name)
    if not m:
        return None
    subject = (m.group("subject") or m.group("inform")).lower()
    return "ela" if subject in ("ela", "reading_english") else "math"


def discover(url: str) -> tuple[Any, list[ExportFile], list[str]]:
    """Export files under ``url`` (any depth), sorted by relative path; and the ignored names."""
    return filedrop.discover(url, classify, "i-Ready", "--source-url (or IREADY_SOURCE_URL)")


def check_file(fs: Any, f: ExportFile, tmp_dir: str) -> Checked:
    """First pass: the shared scan, then the header. Never raises for bad content."""
    scanned = filedrop.scan(fs, f, tmp_dir, "i-Ready")
    out = Checked(f, scanned.sha256, scanned.local_path, scan=scanned, refused=scanned.refused)
    if out.refused:
        return out
    out.header = match_header(scanned.header, f.subject)
    if not out.header.ok:
        out.refused = (f"header_mismatch: the header does not match the i-Ready {f.subject} "
                       f"'{out.header.layout}' layout: {out.header.problem()}")
    return out


RejectFn = Callable[[int, str | None, str, dict], None]


def read_rows(checked: Checked, reject: RejectFn, *, chunk_rows: int, loaded_at: datetime,
              ) -> Iterator[Any]:
    """Second pass: yield Arrow tables of valid rows in canonical columns; report the rest.

    ``reject(line, column, reason, record)`` is called for each rejected line. Counts end
    up in ``checked.outcome``; raises :class:`FileRefused` when loaded + rejected rows do not
    add up to the file's data records.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from .schema import arrow_schema

    schema = arrow_schema()
    header = checked.header
    scanned = checked.scan
    assert header is not None and scanned is not None
    f = checked.file
    validator = RowValidator(header.canonical, f.subject, f.folder_year)
    names = _raw_headers(header, len(header.canonical))
    loaded = rejected = blank = 0

    def on_reject(line: int, column: str | None, reason: str, record: dict) -> None:
        nonlocal rejected
        rejected += 1
        reject(line, column, reason, record)

    def process(columns: list, line_numbers: list[int]) -> Any:
        """Validate one chunk; report its rejects; the Arrow table of its valid rows (or None)."""
        nonlocal loaded, blank
        if scanned.has_nul:
            bad = filedrop.nul_rows(columns)
            for i in bad:
                on_reject(line_numbers[i], None, "nul_byte: a value holds a NUL byte", {})
            if bad:
                columns, line_numbers = filedrop.drop_rows(columns, line_numbers, bad)
        try:
            typed, good, failures = validator.validate_columns(columns, len(line_numbers))
        except (pa.ArrowException, ValueError, OverflowError):
            # a value the vectorised checks did not foresee: find its row, reject it, go on
            columns = filedrop.as_arrays(columns)
            bad = []
            for i in range(len(line_numbers)):
                try:
                    validator.validate_columns([c.slice(i, 1) for c in columns], 1)
                except (pa.ArrowException, ValueError, OverflowError):
                    bad.append(i)
                    on_reject(line_numbers[i], None, "invalid_value: a value cannot be read as its column's"
                              " type", filedrop.record_of(names, [c[i].as_py() for c in columns]))
            columns, line_numbers = filedrop.drop_rows(columns, line_numbers, bad)
            typed, good, failures = validator.validate_columns(columns, len(line_numbers))
        n = len(line_numbers)
        for index, (column, reason) in sorted(failures.items()):
            cells = [c[index].as_py() if isinstance(c, pa.Array) else c[index] for c in columns]
            on_reject(line_numbers[index], column, reason, filedrop.record_of(names, cells))
        lines_array = pa.array(line_numbers, pa.int64())
        if good is not None:
            blank += n - len(failures) - pc.sum(good).as_py() if n else 0
            typed = {c: pc.filter(a, good) for c, a in typed.items()}
            lines_array = pc.filter(lines_array, good)
        kept = len(lines_array)
        loaded += kept
        if kept and "completion_date" in typed:
            latest = pc.max(typed["completion_date"]).as_py()
            if latest and (checked.outcome.get("latest_completion") is None
                           or latest > checked.outcome["latest_completion"]):
                checked.outcome["latest_completion"] = latest
        if loaded // PROGRESS_EVERY != (loaded - kept) // PROGRESS_EVERY:
            event(log, "file_progress", file=f.rel, rows_valid=loaded, rows_rejected=rejected)
        arrays = []
        for col in schema:
            if col.name in typed:
                arrays.append(typed[col.name].cast(col.type))
            elif col.name == "source_line":
                arrays.append(lines_array)
            elif col.name in _META:
                arrays.append(pa.array([_META[col.name](checked, loaded_at)] * kept, type=col.type))
            else:
                arrays.append(pa.nulls(kept, col.type))
        return pa.Table.from_arrays(arrays, schema=schema) if kept else None

    for columns, line_numbers in filedrop.csv_chunks(scanned, names, chunk_rows, on_reject):
        table = process(columns, line_numbers)
        if table is not None:
            yield table
    checked.outcome.update(rows_loaded=loaded, rows_rejected=rejected, blank_lines=blank)
    filedrop.assert_accounted(scanned, loaded, rejected)
    if not loaded and not rejected:
        raise FileRefused("no_data_rows: the file has a header but no data rows")


def _raw_headers(header: HeaderMatch, n: int) -> list[str]:
    names = [c or f"column_{i + 1}" for i, c in enumerate(header.canonical)]
    return names + [f"extra_{i + 1}" for i in range(max(0, n - len(names)))]


_META: dict[str, Callable[[Checked, datetime], Any]] = {
    "subject": lambda c, _: c.file.subject,
    "layout": lambda c, _: c.header.layout if c.header else None,
    "source_file": lambda c, _: c.file.rel,
    "file_sha256": lambda c, _: c.sha256,
    "file_modified_at": lambda c, _: c.file.modified_at,
    "file_export_date": lambda c, _: c.export_date,
    "_loaded_at": lambda _, t: t,
}
