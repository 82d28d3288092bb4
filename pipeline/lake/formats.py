"""The Arrow schemas of the lake's own files (not the generations, whose schema the field table
declares: pipeline/schema/table.py): the quarantine and the manifest."""

from __future__ import annotations

import pyarrow as pa

# quarantine/<run_id>.parquet: one row per quarantined input row.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

# _manifest/<run_id>.parquet: one row per input file a run read.
MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("rows_read", pa.int64(), nullable=False),
        pa.field("rows_written", pa.int64(), nullable=False),
        pa.field("rows_quarantined", pa.int64(), nullable=False),
        pa.field("rows_duplicate", pa.int64(), nullable=False),
    ]
)
