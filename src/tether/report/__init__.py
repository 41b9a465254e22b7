"""Reports a user shares: one self-contained HTML page, Markdown with PNG figures, and summary.json."""

from tether.report.build import ReportFiles, build_report
from tether.report.data import ReportData, gather

__all__ = ["ReportData", "ReportFiles", "build_report", "gather"]
