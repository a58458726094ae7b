"""What a report will read and draw (:class:`ReportPlan`): built by ``build``, read by the page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .read import Labelled


@dataclass
class ReportPlan:
    labelled: Labelled
    out: Path
    by: str | None
    by_leaning: bool
    time: str | None
    freq: str
    actors: list[str] | None
    bootstrap: int
    min_articles: int
    low_margin: float
    max_groups: int
    max_lines: int
    skip_bad_dates: bool
    seed: int
