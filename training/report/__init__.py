"""Reports over labelled corpora: stance toward each actor by group and over time, as a page.

>>> from training.report import build
>>> build("labelled.jsonl", out="report", by="source", time_column="date", freq="M")  # doctest: +SKIP
"""

from .build import ReportSummary, build

__all__ = ["ReportSummary", "build"]
