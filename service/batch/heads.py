"""The bias heads of a ``slant label --bias`` run, as both engines check and record them."""

from __future__ import annotations

import hashlib
from typing import Any

from model.errors import InvalidInputError


def describe_heads(predictor: Any) -> list[dict[str, Any]]:
    """The predictor's bias heads as the manifest records them (task, level, labels, path, and a
    fingerprint of the weights, so that a head refitted in place between a crash and a resume is
    caught like any other change of options)."""
    heads = getattr(predictor, "heads", None) or {}
    out = []
    for _, h in sorted(heads.items()):
        digest = hashlib.sha256(h.encoder.encode())
        for array in (h.weight, h.bias, h.mean, h.scale):
            digest.update(array.tobytes())
        out.append(
            {
                "task": h.task,
                "level": h.level,
                "labels": list(h.labels),
                "path": str(h.path),
                "weights": digest.hexdigest()[:16],
            }
        )
    return out


def check_heads(heads: list[dict[str, Any]], model_name: str) -> None:
    """``--bias`` needs bias heads: refuse at the start rather than write a null ``bias`` on every row."""
    if not heads:
        raise InvalidInputError(
            f"--bias was given, but the model {model_name!r} has no bias heads",
            field="--bias",
            fix="use a model that carries bias/ heads (see `slant fit-bias`), add head directories "
            "with SLANT_HEADS=DIR[,DIR], or leave out --bias",
        )


def leaning_labels(heads: list[dict[str, Any]]) -> list[str] | None:
    """The leaning head's labels (the Parquet ``bias.leaning.probabilities`` fields), if loaded."""
    return next((list(h["labels"]) for h in heads if h["task"] == "leaning"), None)
