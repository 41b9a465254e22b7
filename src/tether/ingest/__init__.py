"""The ingest stage: files made elsewhere (JSONL, Parquet, harness outputs) read, validated and imported."""

from tether.ingest.harness import HarnessOptions, detect_format
from tether.ingest.importer import ImportSummary, import_samples
from tether.ingest.read import GRADED_SCHEMA, GradedRows, read_graded_rows

__all__ = ["GRADED_SCHEMA", "GradedRows", "HarnessOptions", "ImportSummary", "detect_format", "import_samples",
           "read_graded_rows"]
