"""The stance label set and the synonyms accepted in data files.

The label *order* a model uses travels in its model directory (``slant.json``); this module only
defines the canonical names and how raw dataset labels map onto them.
"""

from __future__ import annotations

from .errors import InvalidInputError

STANCE_LABELS: tuple[str, ...] = ("against", "neutral", "favor")

_SYNONYMS = {
    "against": "against",
    "negative": "against",
    "con": "against",
    "neutral": "neutral",
    "none": "neutral",
    "neither": "neutral",
    "favor": "favor",
    "favour": "favor",
    "positive": "favor",
    "pro": "favor",
}


def normalize_label(raw: object, *, field: str = "label") -> str:
    """Map a raw stance label to ``against`` / ``neutral`` / ``favor``.

    >>> normalize_label("NONE")
    'neutral'
    """
    if not isinstance(raw, str):
        raise InvalidInputError(
            f"expected a stance label string, found {type(raw).__name__} {raw!r}",
            field=field,
            fix=f"use one of {sorted(_SYNONYMS)}",
        )
    key = raw.strip().lower()
    if key not in _SYNONYMS:
        raise InvalidInputError(
            f"unknown stance label {raw!r}",
            field=field,
            fix=f"use one of {', '.join(STANCE_LABELS)} (or the synonyms none, positive, negative)",
        )
    return _SYNONYMS[key]
