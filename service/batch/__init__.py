"""Batch labelling of corpora (``slant label``): streaming, resumable, local or on Ray."""

from .runner import LabelSummary, label_corpus

__all__ = ["LabelSummary", "label_corpus"]
