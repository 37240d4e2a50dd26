"""The report package's errors (defined with the rest of the family in simdetect.errors)."""

from __future__ import annotations

from simdetect.errors import ChromiumMissing, ReportError

__all__ = ["ChromiumMissing", "ReportError"]
