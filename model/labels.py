"""The stance label set and the synonyms accepted in data files; the label tasks of the label store
(stance and the bias tasks) and their labels, as :mod:`model.tasks` declares them.

The label *order* a model uses travels in its model directory (``slant.json``); this module only
defines the canonical names and how raw dataset labels map onto them.
"""

from __future__ import annotations

from .errors import InvalidInputError
from .tasks import STANCE, TASK_SPECS

STANCE_LABELS: tuple[str, ...] = STANCE.labels

_SYNONYMS = STANCE.synonyms


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


TASKS: tuple[str, ...] = tuple(TASK_SPECS)
"""What a stored label is about: ``stance`` toward an actor, or a bias task of the whole text
(``leaning`` and ``hyperpartisan`` of an article, ``loaded_language`` of one sentence)."""

TASK_LABELS: dict[str, tuple[str, ...]] = {name: spec.labels for name, spec in TASK_SPECS.items()}
"""The canonical labels of each task; the bias heads' label order is this one."""


def check_task(raw: object, *, field: str = "task") -> str:
    """``raw`` if it names a task (``stance``, ``leaning``, ``hyperpartisan``, ``loaded_language``).

    >>> check_task("leaning")
    'leaning'
    """
    if not isinstance(raw, str) or raw.strip().lower() not in TASKS:
        raise InvalidInputError(
            f"unknown label task {raw!r}", field=field, fix=f"use one of {', '.join(TASKS)}"
        )
    return raw.strip().lower()


def normalize_task_label(task: str, raw: object, *, field: str = "label") -> str:
    """Map a raw label of ``task`` to its canonical name (stance: :func:`normalize_label`).

    Hyperpartisan also takes booleans and ``true``/``false`` (the SemEval files' form).

    >>> normalize_task_label("leaning", "Centre"), normalize_task_label("hyperpartisan", True)
    ('center', 'hyperpartisan')
    """
    if task == "stance":
        return normalize_label(raw, field=field)
    spec = TASK_SPECS[check_task(task)]
    synonyms = spec.synonyms
    valid = ", ".join(spec.labels)
    if spec.booleans and isinstance(raw, bool):
        raw = "true" if raw else "false"
    if not isinstance(raw, str):
        raise InvalidInputError(
            f"expected a {task} label string, found {type(raw).__name__} {raw!r}",
            field=field,
            fix=f"use one of {valid}",
        )
    key = " ".join(raw.strip().lower().split())
    if key not in synonyms:
        raise InvalidInputError(
            f"unknown {task} label {raw!r}; the {task} labels are {valid}",
            field=field,
            fix=f"use one of {valid}",
        )
    return synonyms[key]
