"""Batch audit: a platform's generator outputs, streamed against an index, resumably."""

from simdetect.audit.checkpoint import AuditStateError
from simdetect.audit.job import AuditOptions, AuditOutcome, EmbedFn, run_audit
from simdetect.audit.sources import AuditInput, SourceError, iter_source
from simdetect.audit.summary import AuditSummary, SummaryFiles, summary_paths

__all__ = [
    "AuditInput",
    "AuditOptions",
    "AuditOutcome",
    "AuditStateError",
    "AuditSummary",
    "EmbedFn",
    "SourceError",
    "SummaryFiles",
    "iter_source",
    "run_audit",
    "summary_paths",
]
