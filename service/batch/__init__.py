"""Batch labelling of corpora (``slant label``): streaming, resumable, local or on Ray."""

from .job import LabelSummary
from .runner import label_corpus

__all__ = ["LabelSummary", "label_corpus"]
