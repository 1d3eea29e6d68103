"""Finding export files (local folder or any fsspec URL), checking them, reading their rows.

Each file is read twice: once to hash it and check encoding, delimiter and header (a file
that fails is refused whole before any row is loaded), then to parse rows into Arrow
tables. Remote files are copied to a local temporary folder on the first pass, so both
passes see the same bytes.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec

from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import event, get_logger

from .layouts import HeaderMatch, match_header
from .validation import RowValidator

FILE_PATTERN = re.compile(
    r"^(?:diagnostic_results_(?P<subject>ela|math)"
    r"|i-ready_inform_results_(?P<inform>reading_english|math))(?:_confidential)?\.csv$",
    re.IGNORECASE,
)
YEAR_FOLDER = re.compile(r"^(\d{4})-(\d{4})$")
LOCAL_PROTOCOLS = {"file", "local"}
BLOCK = 1 << 20
PROGRESS_EVERY = 50_000
log = get_logger("iready")


@dataclass
class ExportFile:
    path: str  # as the filesystem knows it
    rel: str  # relative to the source root: the key in raw_iready.files
    subject: str
    folder_year: str | None
    size: int
    modified_at: datetime


@dataclass
class Checked:
    """Result of the first pass over one file."""

    file: ExportFile
    sha256: str = ""
    local_path: str | None = None
    header: HeaderMatch | None = None
    refused: str | None = None  # one-sentence reason when the whole file is refused
    has_bom: bool = False
    one_record_per_line: bool = True  # no quoted field spans lines: the fast Arrow reader applies
    outcome: dict[str, Any] = field(default_factory=dict)


def redact_url(url: str) -> str:
    """The URL without credentials, for logs and the audit table."""
    return re.sub(r"//[^/@]*@", "//***@", url)


def _mtime(info: dict) -> datetime:
    for key in ("mtime", "LastModified", "last_modified", "modified", "created", "time"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float) and value > 0:
            return datetime.fromtimestamp(value, UTC)
    return datetime.fromtimestamp(0, UTC)


def open_source(url: str):
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise OperatorError(f"Cannot open the i-Ready source {redact_url(url)}: {exc}.",
                            "use a local folder or an fsspec URL such as sftp://user@host/exports "
                            "(SFTP needs the sshfs package).") from None
    return fs, root.rstrip("/") or "/"


def discover(url: str) -> tuple[Any, list[ExportFile], list[str]]:
    """Export files under ``url`` (any depth), sorted by relative path; and the ignored names."""
    fs, root = open_source(url)
    try:
        if not fs.isdir(root):
            raise OperatorError(f"The i-Ready source {redact_url(url)} is not a folder.",
                                "point --source-url (or IREADY_SOURCE_URL) at the exports folder.")
        found = fs.find(root, withdirs=False, detail=True)
    except OperatorError:
        raise
    except Exception as exc:  # network, permissions, authentication
        raise OperatorError(f"Cannot list the i-Ready source {redact_url(url)}: {type(exc).__name__}: {exc}.",
                            "check the URL, the credentials and that the server is reachable.") from None
    files, ignored = [], []
    for path, info in sorted(found.items()):
        rel = path[len(root):].lstrip("/") if path.startswith(root) else path
        name = rel.rsplit("/", 1)[-1]
        m = FILE_PATTERN.match(name)
        if not m:
            ignored.append(rel)
            continue
        subject = (m.group("subject") or m.group("inform")).lower()
        subject = "ela" if subject in ("ela", "reading_english") else "math"
        year = next((p for p in reversed(rel.split("/")[:-1]) if YEAR_FOLDER.match(p)), None)
        files.append(ExportFile(path, rel, subject, year, int(info.get("size") or 0), _mtime(info)))
    return fs, files, ignored


def _line_of(data: bytes, offset: int, lines_before: int) -> int:
    return lines_before + data[:offset].count(b"\n") + 1


def check_file(fs: Any, f: ExportFile, tmp_dir: str) -> Checked:
    """First pass: hash, encoding, delimiter and header. Never raises for bad content."""
    out = Checked(f)
    local = fs.protocol in LOCAL_PROTOCOLS or (isinstance(fs.protocol, tuple)
                                               and set(fs.protocol) & LOCAL_PROTOCOLS)
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    head = b""
    carry = b""
    lines = 0
    bad_at: int | None = None
    target = None
    if not local:
        out.local_path = str(Path(tmp_dir) / hashlib.sha1(f.rel.encode()).hexdigest())
        target = open(out.local_path, "wb")  # noqa: SIM115 - closed below
    else:
        out.local_path = f.path
    try:
        with fs.open(f.path, "rb") as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
                if target:
                    target.write(block)
                if len(head) < 65536:
                    head += block[:65536]
                if bad_at is None:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        bad_at = _line_of(block, max(0, exc.start), lines)
                lines += block.count(b"\n")
                if out.one_record_per_line and b'"' in block:
                    pieces = (carry + block).split(b"\n")
                    carry = pieces.pop()
                    if any(piece.count(b'"') % 2 for piece in pieces):
                        out.one_record_per_line = False  # a quoted field spans lines
                else:
                    carry = (carry + block).rsplit(b"\n", 1)[-1]
    finally:
        if target:
            target.close()
    if carry.count(b'"') % 2:
        out.one_record_per_line = False
    out.sha256 = digest.hexdigest()
    f.size = f.size or len(head)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        out.refused = "empty_file: the file is empty"
        return out
    if bad_at is not None:
        out.refused = (f"not_utf8: the file is not UTF-8 (first bad byte on line {bad_at}); "
                       "re-export it as CSV UTF-8")
        return out
    out.has_bom = head.startswith(codecs.BOM_UTF8)
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if delimiter != "," and counts[delimiter] > counts[","]:
        name = {"\t": "tab", ";": "semicolon", "|": "pipe"}[delimiter]
        out.refused = (f"wrong_delimiter: the file is {name}-separated; i-Ready exports are "
                       "comma-separated, re-export it as CSV")
        return out
    header = next(csv.reader([first_line]))
    out.header = match_header(header, f.subject)
    if not out.header.ok:
        out.refused = (f"header_mismatch: the header does not match the i-Ready {f.subject} "
                       f"'{out.header.layout}' layout: {out.header.problem()}")
        return out
    rest = text.split("\n", 1)[1] if "\n" in text else ""
    if not rest.strip(" \r\n\t,") and len(head) < 65536:
        out.refused = "no_data_rows: the file has a header but no data rows"
    return out


RejectFn = Callable[[int, str | None, str, dict], None]


def read_rows(checked: Checked, reject: RejectFn, *, chunk_rows: int, loaded_at: datetime,
              ) -> Iterator[Any]:
    """Second pass: yield Arrow tables of valid rows in canonical columns; report the rest.

    ``reject(line, column, reason, record)`` is called for each rejected line. Counts end
    up in ``checked.outcome``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from .schema import arrow_schema

    schema = arrow_schema()
    header = checked.header
    assert header is not None and checked.local_path is not None
    f = checked.file
    validator = RowValidator(header.canonical, f.subject, f.folder_year)
    loaded = rejected = blank = 0

    def on_reject(line: int, column: str | None, reason: str, record: dict) -> None:
        nonlocal rejected
        rejected += 1
        reject(line, column, reason, record)

    def process(columns: list, line_numbers: list[int]) -> Any:
        """Validate one chunk; report its rejects; the Arrow table of its valid rows (or None)."""
        nonlocal loaded, blank
        n = len(line_numbers)
        typed, good, failures = validator.validate_columns(columns, n)
        for index, (column, reason) in sorted(failures.items()):
            cells = [c[index].as_py() if isinstance(c, pa.Array) else c[index] for c in columns]
            record = dict(zip(_raw_headers(header, len(cells)), cells, strict=False))
            on_reject(line_numbers[index], column, reason, record)
        lines_array = pa.array(line_numbers, pa.int64())
        if good is not None:
            blank += n - len(failures) - pc.sum(good).as_py() if n else 0
            typed = {c: pc.filter(a, good) for c, a in typed.items()}
            lines_array = pc.filter(lines_array, good)
        kept = len(lines_array)
        loaded += kept
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

    reader = _arrow_chunks if checked.one_record_per_line else _python_chunks
    for columns, line_numbers in reader(checked, header, validator.width, chunk_rows, on_reject):
        table = process(columns, line_numbers)
        if table is not None:
            yield table
    checked.outcome.update(rows_loaded=loaded, rows_rejected=rejected, blank_lines=blank)


def _python_chunks(checked: Checked, header: HeaderMatch, width: int, chunk_rows: int,
                   on_reject: RejectFn) -> Iterator[tuple[list, list[int]]]:
    """Chunks read with Python's csv module (any CSV, including line breaks inside quotes)."""
    rows: list[list[str]] = []
    lines: list[int] = []
    assert checked.local_path is not None
    with open(checked.local_path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for cells in _records(reader, on_reject):
            if len(cells) != width:
                if not cells or not any(c.strip() for c in cells):
                    continue
                _reject_width(on_reject, header, reader.line_num, cells, width)
                continue
            rows.append(cells)
            lines.append(reader.line_num)
            if len(rows) >= chunk_rows:
                yield list(zip(*rows, strict=True)), lines
                rows, lines = [], []
    if rows:
        yield list(zip(*rows, strict=True)), lines


def _arrow_chunks(checked: Checked, header: HeaderMatch, width: int, chunk_rows: int,
                  on_reject: RejectFn) -> Iterator[tuple[list, list[int]]]:
    """Chunks read by Arrow's CSV reader, when every record is on one line (checked in the
    first pass): about ten times less CPU than Python's csv module. Every physical line is
    either a row or an invalid-row callback, so row line numbers are counted exactly."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    assert checked.local_path is not None
    invalid: list[int] = []

    def handler(row: Any) -> str:
        text = row.text or ""
        if text.strip(" \r\t,"):
            cells = next(csv.reader([text]), [])
            _reject_width(on_reject, header, row.number, cells, width)
        invalid.append(row.number)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    reader = pcsv.open_csv(
        checked.local_path,
        read_options=pcsv.ReadOptions(use_threads=False, block_size=1 << 20,
                                      column_names=names, skip_rows=1),
        parse_options=pcsv.ParseOptions(invalid_row_handler=handler, ignore_empty_lines=False,
                                        newlines_in_values=False),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    next_line = 2
    for batch in reader:
        n = batch.num_rows
        skipped = set(invalid)
        invalid.clear()
        line_numbers = []
        while len(line_numbers) < n:
            if next_line not in skipped:
                line_numbers.append(next_line)
            next_line += 1
        for start in range(0, n, chunk_rows):
            piece = batch.slice(start, chunk_rows)
            yield [piece.column(i) for i in range(width)], line_numbers[start:start + chunk_rows]


def _reject_width(on_reject: RejectFn, header: HeaderMatch, line: int, cells: list[str], width: int) -> None:
    record = dict(zip(_raw_headers(header, len(cells)), cells, strict=False))
    on_reject(line, None, f"wrong_field_count: {len(cells)} fields, the header has {width}"
                          " (truncated or malformed line)", record)


def _records(reader: Any, reject: RejectFn) -> Iterator[list[str]]:
    """csv records; a broken quote ends the file with one reject instead of a crash."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reject(reader.line_num, None, f"malformed_csv: {exc}; the rest of the file was not read", {})
            return


def _raw_headers(header: HeaderMatch, n: int) -> list[str]:
    names = [c or f"column_{i + 1}" for i, c in enumerate(header.canonical)]
    return names + [f"extra_{i + 1}" for i in range(max(0, n - len(names)))]


_META: dict[str, Callable[[Checked, datetime], Any]] = {
    "subject": lambda c, _: c.file.subject,
    "layout": lambda c, _: c.header.layout if c.header else None,
    "source_file": lambda c, _: c.file.rel,
    "file_sha256": lambda c, _: c.sha256,
    "file_modified_at": lambda c, _: c.file.modified_at,
    "_loaded_at": lambda _, t: t,
}
