"""The file-ingestion path every export source shares (i-Ready, Aeries CSV exports).

One export file goes through the same steps whatever the source:

1. **discover**: list the files under a local folder or any fsspec URL (``file://``, ``sftp://``
   through ``sshfs``, ``memory://``), classify each by its name, keep the path relative to the
   source root (the registry key);
2. **scan** (:func:`scan`): one pass over the bytes that hashes the content (the registry key's
   version), copies a remote file to a local temporary folder (both passes see the same bytes) and
   checks what makes a file unreadable as a whole: empty, not UTF-8 (UTF-16 and Latin-1 included:
   refused, never decoded into garbled text), a NUL byte in the header, a quoted field that is
   never closed, another delimiter. It also counts the file's **data records** the way a CSV
   parser will (quotes spanning lines included, blank lines excluded), which is what the loaded
   and rejected rows must add up to (:func:`assert_accounted`);
3. **read** (:func:`csv_chunks`): chunks of string columns with the physical line number of each
   record; Arrow's CSV reader when every record is on one line, Python's csv module otherwise.
   Records over :data:`MAX_RECORD_BYTES` and records with the wrong number of fields are rejected
   (never parsed); a NUL byte inside a value rejects its record (:func:`nul_rows`).

A file that cannot be accounted for raises :class:`FileRefused`; the caller loads each file in
its own dlt run, so a refused file never leaves a row behind and never stops the other files.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fsspec

from .errors import OperatorError

LOCAL_PROTOCOLS = {"file", "local"}
BLOCK = 1 << 20
MAX_RECORD_BYTES = 1 << 20  # a record longer than this is rejected unread (no export has one)
HUGE_LINE_BYTES = 16 << 20  # a line longer than this refuses the file (it is not an export)
BLANK = b' \r\t,"'
BLANK_TEXT = ' \r\t,"'
# a date in the file name or folder: 2025-06-13, 2025_06_13 or 20250613
NAME_DATE = re.compile(r"(?<!\d)(20\d{2})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")


class LoadFailed(OperatorError):
    """The source, the disk or the warehouse failed mid-run (not the file's content). The message
    says where and why without quoting any row (dlt and Postgres errors can quote the CSV line being
    copied, i.e. student data). Exit status 1; nothing of the file being loaded was committed."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message, "rerun once the source and the warehouse answer again; loaded files are"
                                  " kept and the rest loads.")


class FileRefused(Exception):
    """The file is refused whole; ``reason`` is one sentence with the reason code first."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _in_chain(exc: BaseException, match: Callable[[BaseException], bool]) -> BaseException | None:
    """The first exception in ``exc``'s cause chain that ``match`` accepts (dlt wraps what a
    resource or a destination raises)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if match(cause):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def refusal_of(exc: BaseException) -> FileRefused | None:
    """The FileRefused a library wrapped, if any."""
    return _in_chain(exc, lambda e: isinstance(e, FileRefused))  # type: ignore[return-value]


def io_failure(exc: BaseException) -> OSError | None:
    """An OSError (the source or the disk went away) somewhere in the cause chain."""
    return _in_chain(exc, lambda e: isinstance(e, OSError))  # type: ignore[return-value]


def database_failure(exc: BaseException) -> BaseException | None:
    """A lost or refused warehouse connection somewhere in the cause chain."""
    return _in_chain(exc, lambda e: type(e).__module__.startswith("psycopg2")
                     and type(e).__name__ in ("OperationalError", "InterfaceError"))


def abort_packages(pipeline: Any) -> None:
    """Drop the packages of a failed or crashed load (nothing of them was committed)."""
    abort = getattr(pipeline, "abort_packages", None) or pipeline.drop_pending_packages
    abort()


def header_problem(what: str, known: int, total: int, missing: list[str], unknown: list[str],
                   duplicated: list[str]) -> str:
    """One sentence on what is wrong with a file's header line (``what``: "an i-Ready", ...)."""
    if len(unknown) > known:
        # most likely a data row (header missing): never echo its cells, they are student data
        return (f"the first line is not {what} header ({len(unknown)} of {total} cells are not known"
                " column names; is the header row missing?)")
    parts = []
    for label, names in (("missing", missing), ("unknown", unknown), ("duplicated", duplicated)):
        if names:
            parts.append(f"{label} columns: {', '.join(repr(h) for h in names)}")
    return "; ".join(parts)


@dataclass
class ExportFile:
    path: str  # as the filesystem knows it
    rel: str  # relative to the source root: the registry key
    kind: str  # what the source's classifier made of the name (subject, Aeries table)
    folder_year: str | None
    size: int
    modified_at: datetime  # reported only; never decides which version wins
    name_date: date | None = None  # export date from the file or folder name

    @property
    def subject(self) -> str:  # i-Ready's word for the kind
        return self.kind


@dataclass
class Scan:
    """What the first pass learnt about one file."""

    sha256: str = ""
    local_path: str | None = None
    refused: str | None = None
    has_bom: bool = False
    header: list[str] = field(default_factory=list)
    delimiter: str = ","
    one_record_per_line: bool = True
    data_records: int = 0  # non-blank records after the header, as a CSV parser counts them
    oversized: set[int] = field(default_factory=set)  # first lines of records over MAX_RECORD_BYTES
    has_nul: bool = False


def redact_url(url: str) -> str:
    """The URL without credentials, for logs and the audit table."""
    return re.sub(r"//[^/@]*@", "//***@", url)


def name_date(rel: str) -> date | None:
    """The last date written in the path (``ATT_101_20250613.csv``, ``2025-06-13/...``), if any."""
    found = None
    for m in NAME_DATE.finditer(rel):
        try:
            found = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return found


def _mtime(info: dict) -> datetime:
    for key in ("mtime", "LastModified", "last_modified", "modified", "created", "time"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float) and value > 0:
            return datetime.fromtimestamp(value, UTC)
    return datetime.fromtimestamp(0, UTC)


def open_source(url: str, what: str):
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise OperatorError(f"Cannot open the {what} source {redact_url(url)}: {exc}.",
                            "use a local folder or an fsspec URL such as sftp://user@host/exports "
                            "(SFTP needs the sshfs package).") from None
    return fs, root.rstrip("/") or "/"


YEAR_FOLDER = re.compile(r"^(\d{4})-(\d{4})$")


def discover(url: str, classify: Callable[[str], str | None], what: str, option: str,
             ) -> tuple[Any, list[ExportFile], list[str]]:
    """Files under ``url`` (any depth) whose name ``classify`` knows, sorted by relative path;
    and the relative paths of the others (ignored)."""
    fs, root = open_source(url, what)
    try:
        if not fs.isdir(root):
            raise OperatorError(f"The {what} source {redact_url(url)} is not a folder.",
                                f"point {option} at the exports folder.")
        found = fs.find(root, withdirs=False, detail=True)
    except OperatorError:
        raise
    except Exception as exc:  # network, permissions, authentication
        raise OperatorError(f"Cannot list the {what} source {redact_url(url)}: {type(exc).__name__}: {exc}.",
                            "check the URL, the credentials and that the server is reachable.") from None
    files, ignored = [], []
    for path, info in sorted(found.items()):
        rel = path[len(root):].lstrip("/") if path.startswith(root) else path
        kind = classify(rel.rsplit("/", 1)[-1])
        if kind is None:
            ignored.append(rel)
            continue
        year = next((p for p in reversed(rel.split("/")[:-1]) if YEAR_FOLDER.match(p)), None)
        files.append(ExportFile(path, rel, kind, year, int(info.get("size") or 0), _mtime(info),
                                name_date(rel)))
    return fs, files, ignored


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return bool(set(protocol) & LOCAL_PROTOCOLS)


def scan(fs: Any, f: ExportFile, tmp_dir: str, what: str) -> Scan:
    """First pass: hash, copy, encoding, NULs, quotes, record count. Never raises for content."""
    out = Scan()
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    head = b""
    lines = 0  # physical lines completed so far
    bad_utf8: int | None = None
    nul_line: int | None = None
    carry = b""
    in_quote = False
    record_start = 0
    record_bytes = 0
    open_quote_line = 0
    records = 0
    huge_line = 0
    target = None
    if _is_local(fs):
        out.local_path = f.path
    else:
        out.local_path = str(Path(tmp_dir) / hashlib.sha1(f.rel.encode()).hexdigest())
        target = open(out.local_path, "wb")  # noqa: SIM115 - closed below

    def line_done(piece: bytes) -> None:
        nonlocal lines, in_quote, record_start, record_bytes, open_quote_line, records
        lines += 1
        quotes = piece.count(b'"')
        if not in_quote:
            if not piece.strip(BLANK) and quotes % 2 == 0:
                return  # blank line: not a record
            record_start, record_bytes = lines, 0
            records += 1
            if quotes % 2:
                in_quote, open_quote_line = True, lines
        elif quotes % 2:
            in_quote = False
        record_bytes += len(piece) + 1
        if in_quote:
            out.one_record_per_line = False
        if record_bytes > MAX_RECORD_BYTES:
            out.oversized.add(record_start)

    try:
        with fs.open(f.path, "rb") as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
                if target:
                    target.write(block)
                if len(head) < 65536:
                    head += block[:65536]
                if bad_utf8 is None:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        bad_utf8 = lines + block[:max(0, exc.start)].count(b"\n") + 1
                if nul_line is None and b"\x00" in block:
                    position = block.index(b"\x00")
                    nul_line = lines + (carry + block[:position]).count(b"\n") + 1
                if huge_line:
                    continue
                pieces = (carry + block).split(b"\n")
                carry = pieces.pop()
                for piece in pieces:
                    line_done(piece)
                if len(carry) > HUGE_LINE_BYTES:  # one endless line: stop reading lines
                    huge_line, carry = lines + 1, b""
    finally:
        if target:
            target.close()
    if carry:
        line_done(carry)
    if bad_utf8 is None:
        try:
            decoder.decode(b"", final=True)  # a multi-byte character cut off at the end
        except UnicodeDecodeError:
            bad_utf8 = max(lines, 1)
    out.sha256 = digest.hexdigest()
    f.size = f.size or len(head)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or head[:4] == codecs.BOM_UTF32_LE:
        out.refused = ("not_utf8: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
                       "re-export it as CSV UTF-8")
        return out
    if not head.strip(b"\xef\xbb\xbf \r\n\t\x00"):
        out.refused = "empty_file: the file is empty"
        return out
    if bad_utf8 is not None:
        out.refused = (f"not_utf8: the file is not UTF-8 (first bad byte on line {bad_utf8}); "
                       "re-export it as CSV UTF-8")
        return out
    out.has_bom = head.startswith(codecs.BOM_UTF8)
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if nul_line == 1 or "\x00" in first_line:
        out.refused = ("not_utf8: the header holds NUL bytes (a UTF-16 or binary file); "
                       "re-export it as CSV UTF-8")
        return out
    out.has_nul = nul_line is not None
    if huge_line:
        out.refused = f"line_too_long: line {huge_line} is over 16 MB; this is not an export"
        return out
    if in_quote:
        out.refused = (f"unclosed_quote: a quoted field opened on line {open_quote_line} is never closed,"
                       " so the lines after it cannot be read; fix or re-export the file")
        return out
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if delimiter != "," and counts[delimiter] > counts[","]:
        name = {"\t": "tab", ";": "semicolon", "|": "pipe"}[delimiter]
        out.refused = (f"wrong_delimiter: the file is {name}-separated; {what} exports are "
                       "comma-separated, re-export it as CSV")
        return out
    if 1 in out.oversized:
        out.refused = "line_too_long: the header line is over 1 MB; this is not an export"
        return out
    out.header = next(csv.reader([first_line]))
    out.data_records = max(0, records - 1)
    if out.oversized:
        out.one_record_per_line = False  # the Python reader skips those records unread
    if out.data_records == 0:
        out.refused = "no_data_rows: the file has a header but no data rows"
    return out


def assert_accounted(scanned: Scan, loaded: int, rejected: int) -> None:
    """Every data record is a loaded row or a rejected one; otherwise the file is refused."""
    if loaded + rejected != scanned.data_records:
        raise FileRefused(
            f"accounting: the file has {scanned.data_records} data records but {loaded} were loaded and"
            f" {rejected} rejected; the file is refused whole (check quotes and line breaks)")


# -- reading ------------------------------------------------------------------------------------

RejectFn = Callable[[int, str | None, str, dict], None]
Chunk = tuple[list, list[int]]


MAX_REJECT_CELL = 1000


def _storable(cell: Any) -> Any:
    """A cell as ops.load_rejects can keep it: no NUL (jsonb refuses it), at most 1,000 characters."""
    if not isinstance(cell, str):
        return cell
    if "\x00" in cell:
        cell = cell.replace("\x00", "\\x00")
    return cell if len(cell) <= MAX_REJECT_CELL else cell[:MAX_REJECT_CELL] + "..."


def record_of(names: list[str], cells: list[str]) -> dict:
    """The rejected record by column name, for ops.load_rejects."""
    names = names + [f"extra_{i + 1}" for i in range(max(0, len(cells) - len(names)))]
    return dict(zip(names, (_storable(c) for c in cells), strict=False))


def _reject_width(on_reject: RejectFn, names: list[str], line: int, cells: list[str], width: int) -> None:
    on_reject(line, None, f"wrong_field_count: {len(cells)} fields, the header has {width}"
                          " (truncated or malformed line)", record_of(names, cells))


def _reject_long(on_reject: RejectFn, line: int) -> None:
    on_reject(line, None, f"line_too_long: the record is over {MAX_RECORD_BYTES // (1 << 20)} MB"
                          " and was not read", {})


def csv_chunks(scanned: Scan, names: list[str], chunk_rows: int, on_reject: RejectFn) -> Iterator[Chunk]:
    """Chunks of the data records as string columns (Arrow arrays or tuples), with the line number
    of each record; wrong-width and over-long records go to ``on_reject``, blank lines are skipped."""
    reader = _arrow_chunks if scanned.one_record_per_line else _python_chunks
    yield from reader(scanned, names, chunk_rows, on_reject)


def _python_chunks(scanned: Scan, names: list[str], chunk_rows: int, on_reject: RejectFn) -> Iterator[Chunk]:
    """Python's csv module: any CSV, including line breaks inside quotes."""
    width = len(names)
    rows: list[list[str]] = []
    lines: list[int] = []
    assert scanned.local_path is not None
    csv.field_size_limit(max(csv.field_size_limit(), 64 * MAX_RECORD_BYTES))
    with open(scanned.local_path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            next(reader, None)
        except csv.Error as exc:
            raise FileRefused(f"malformed_csv: the header cannot be parsed ({exc})") from None
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise FileRefused(f"malformed_csv: line {start}: {exc}; the file is refused whole") from None
            if not cells or not any(c.strip(BLANK_TEXT) for c in cells):
                continue
            if start in scanned.oversized:
                _reject_long(on_reject, start)
                continue
            if len(cells) != width:
                _reject_width(on_reject, names, start, cells, width)
                continue
            rows.append(cells)
            lines.append(start)
            if len(rows) >= chunk_rows:
                yield list(zip(*rows, strict=True)), lines
                rows, lines = [], []
    if rows:
        yield list(zip(*rows, strict=True)), lines


def _arrow_chunks(scanned: Scan, names: list[str], chunk_rows: int, on_reject: RejectFn) -> Iterator[Chunk]:
    """Arrow's CSV reader, when every record is on one line (checked by the scan): about ten
    times less CPU than Python's csv module. Every physical line is either a row or an
    invalid-row callback, so row line numbers are counted exactly."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    assert scanned.local_path is not None
    width = len(names)
    invalid: list[int] = []

    def handler(row: Any) -> str:
        text = row.text or ""
        if text.strip(BLANK_TEXT):
            cells = next(csv.reader([text]), [])
            _reject_width(on_reject, names, row.number, cells, width)
        invalid.append(row.number)
        return "skip"

    columns = [f"c{i}" for i in range(width)]
    try:
        reader = pcsv.open_csv(
            scanned.local_path,
            read_options=pcsv.ReadOptions(use_threads=False, block_size=2 * MAX_RECORD_BYTES,
                                          column_names=columns, skip_rows=1),
            parse_options=pcsv.ParseOptions(invalid_row_handler=handler, ignore_empty_lines=False,
                                            newlines_in_values=False),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()),
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return
        raise FileRefused("malformed_csv: the CSV reader cannot open the file"
                          f" ({_arrow_reason(exc)})") from None
    next_line = 2
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise FileRefused(f"malformed_csv: near line {next_line}: {_arrow_reason(exc)}") from None
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


def _arrow_reason(exc: BaseException) -> str:
    """Arrow's complaint without the row text it sometimes quotes (student data)."""
    text = str(exc).split(":", 1)[0] if "parse error" in str(exc).lower() else str(exc)
    return re.sub(r"[^\x20-\x7e]", "?", text)[:120]


def as_arrays(columns: list) -> list:
    import pyarrow as pa

    return [c if isinstance(c, pa.Array) else pa.array(c, pa.string()) for c in columns]


def nul_rows(columns: list) -> list[int]:
    """Indexes of the rows with a NUL byte in any cell (Postgres text cannot hold one)."""
    import pyarrow.compute as pc

    mask = None
    for col in as_arrays(columns):
        hit = pc.fill_null(pc.match_substring(col, "\x00"), False)
        mask = hit if mask is None else pc.or_(mask, hit)
    return pc.indices_nonzero(mask).to_pylist() if mask is not None else []


def drop_rows(columns: list, lines: list[int], drop: list[int]) -> tuple[list, list[int]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = [True] * len(lines)
    for i in drop:
        keep[i] = False
    mask = pa.array(keep)
    kept = [n for n, k in zip(lines, keep, strict=True) if k]
    return [pc.filter(c, mask) for c in as_arrays(columns)], kept
