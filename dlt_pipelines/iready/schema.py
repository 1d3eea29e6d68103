"""Arrow schema of ``raw_iready.diagnostic_results``: canonical columns, typed, then metadata."""

from __future__ import annotations

from functools import cache

from .layouts import CANONICAL, DATE_COLUMNS, INT_COLUMNS, PERCENT_COLUMNS


@cache
def arrow_schema():
    import pyarrow as pa

    fields = []
    for name in CANONICAL:
        if name in INT_COLUMNS:
            kind = pa.int64()
        elif name in PERCENT_COLUMNS:
            kind = pa.float64()
        elif name in DATE_COLUMNS:
            kind = pa.date32()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind, nullable=name not in ("student_id",)))
    fields += [
        pa.field("subject", pa.string(), nullable=False),
        pa.field("layout", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("file_sha256", pa.string(), nullable=False),
        pa.field("file_modified_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("file_export_date", pa.date32(), nullable=True),
        pa.field("_loaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
    return pa.schema(fields)
