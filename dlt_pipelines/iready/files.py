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
    finally:
        if target:
            target.close()
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
    rows: list[list[str]] = []
    lines: list[int] = []
    loaded = rejected = blank = 0

    def on_reject(line: int, column: str | None, reason: str, record: dict) -> None:
        nonlocal rejected
        rejected += 1
        reject(line, column, reason, record)

    def flush() -> Any:
        nonlocal loaded
        typed, good, failures = validator.validate(rows)
        line_numbers = pa.array(lines, pa.int64())
        for index, (column, reason) in sorted(failures.items()):
            record = dict(zip(_raw_headers(header, len(rows[index])), rows[index], strict=False))
            on_reject(lines[index], column, reason, record)
        if good is not None:
            typed = {c: pc.filter(a, good) for c, a in typed.items()}
            line_numbers = pc.filter(line_numbers, good)
        n = len(line_numbers)
        loaded += n
        if loaded // PROGRESS_EVERY != (loaded - n) // PROGRESS_EVERY:
            event(log, "file_progress", file=f.rel, rows_valid=loaded, rows_rejected=rejected)
        arrays = []
        for col in schema:
            if col.name in typed:
                arrays.append(typed[col.name].cast(col.type))
            elif col.name == "source_line":
                arrays.append(line_numbers)
            elif col.name in _META:
                arrays.append(pa.array([_META[col.name](checked, loaded_at)] * n, type=col.type))
            else:
                arrays.append(pa.nulls(n, col.type))
        rows.clear()
        lines.clear()
        return pa.Table.from_arrays(arrays, schema=schema) if n else None

    width = validator.width
    i_sid = validator.present.get("student_id", 0)
    with open(checked.local_path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for cells in _records(reader, on_reject):
            if len(cells) != width:
                if not cells or not any(c.strip() for c in cells):
                    blank += 1
                    continue
                record = dict(zip(_raw_headers(header, len(cells)), cells, strict=False))
                on_reject(reader.line_num, None, f"wrong_field_count: {len(cells)} fields, the header has "
                                                 f"{width} (truncated or malformed line)", record)
                continue
            if not cells[i_sid].strip() and not any(c.strip() for c in cells):
                blank += 1
                continue
            rows.append(cells)
            lines.append(reader.line_num)
            if len(rows) >= chunk_rows:
                table = flush()
                if table is not None:
                    yield table
    if rows:
        table = flush()
        if table is not None:
            yield table
    checked.outcome.update(rows_loaded=loaded, rows_rejected=rejected, blank_lines=blank)


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
