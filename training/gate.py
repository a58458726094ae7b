"""The promotion gate: a retrained model replaces the current one only if it is no worse on the
fixed evaluation sets and better on the labels people gave since.

Both models are scored on the same rows; the gate compares their macro-F1 (points, 0-100):

- on each fixed set, the new model may lose at most ``tolerance`` points (a loss of exactly
  ``tolerance`` passes);
- on the held-back slice of the new labels it must gain more than ``min_gain`` points (with the
  default 0.0: strictly better);
- a set scored for one model and not the other, or an empty new-label slice, fails the gate.

Bias heads are judged the same way beside the stance sets: ``leaning:dev`` is a fixed set and
``leaning:new-labels`` the held-back slice of the leaning labels. Every new-label set (any name
``new-labels`` or ending in ``:new-labels``) must gain; at least one must be there.

>>> d = promotion_gate({"dev": 70.0, NEW_LABELS: 50.0}, {"dev": 69.5, NEW_LABELS: 60.0})
>>> d.passed, d.sets["dev"].delta
(True, -0.5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

NEW_LABELS = "new-labels"
"""Name of the held-back slice of the label store's labels in reports and gate decisions; a bias
task's slice is ``<task>:new-labels``."""


def is_new_labels(name: str, new_labels: str = NEW_LABELS) -> bool:
    """Whether a set is a held-back slice of new labels (``new-labels``, ``leaning:new-labels``).

    >>> is_new_labels("leaning:new-labels"), is_new_labels("leaning:dev")
    (True, False)
    """
    return name == new_labels or name.endswith(":" + new_labels)


_EPS = 1e-9  # macro-F1 is rounded to 2 decimals; deltas like 69.0 - 70.0 must compare exactly


@dataclass(frozen=True)
class SetCheck:
    """One set's comparison: old and new macro-F1, the change, and whether it is acceptable."""

    kind: Literal["fixed", "new_labels"]
    old: float | None
    new: float | None
    delta: float | None
    ok: bool
    rows: int | None = None


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided and why; stored in the registry and printed by ``slant retrain``."""

    passed: bool
    compared_to: str | None
    tolerance: float
    min_gain: float
    metric: str = "macro_f1"
    sets: dict[str, SetCheck] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GateDecision:
        sets = {k: SetCheck(**v) for k, v in (raw.get("sets") or {}).items()}
        return cls(**{**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__}, "sets": sets})

    def summary(self) -> str:
        """Multi-line text: the verdict, one line per set, then the reasons."""
        head = "PASSED" if self.passed else "FAILED"
        lines = [
            f"promotion gate {head} against {self.compared_to or 'nothing'} "
            f"(fixed sets: lose at most {self.tolerance:g} {self.metric} points; "
            f"{NEW_LABELS}: gain more than {self.min_gain:g})"
        ]
        for name, s in self.sets.items():
            old = "-" if s.old is None else f"{s.old:.2f}"
            new = "-" if s.new is None else f"{s.new:.2f}"
            delta = "-" if s.delta is None else f"{s.delta:+.2f}"
            rows = "" if s.rows is None else f" ({s.rows} rows)"
            lines.append(f"  {'ok  ' if s.ok else 'FAIL'} {name:28} {old:>7} -> {new:>7}  {delta:>7}{rows}")
        lines += [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)


def promotion_gate(
    old: dict[str, float],
    new: dict[str, float],
    *,
    compared_to: str | None = None,
    tolerance: float = 1.0,
    min_gain: float = 0.0,
    new_labels: str = NEW_LABELS,
    rows: dict[str, int] | None = None,
) -> GateDecision:
    """Decide whether ``new`` may replace ``old``, from {set name: macro-F1} of each.

    The set named ``new_labels`` (and any ``<task>:<new_labels>``) is a held-back slice of new
    labels; every other set is fixed. ``rows`` gives each set's size: a slice listed there with 0
    rows (a task that had labels but none held back) fails.
    """
    if tolerance < 0 or min_gain < 0:
        raise ValueError(f"tolerance ({tolerance}) and min_gain ({min_gain}) must not be negative")
    sets: dict[str, SetCheck] = {}
    reasons: list[str] = []
    counts = rows or {}
    names = list(dict.fromkeys([*old, *new]))
    for name in [k for k in names if not is_new_labels(k, new_labels)]:
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            sets[name] = SetCheck("fixed", a, b, None, False, counts.get(name))
            reasons.append(f"{name}: scored for only the {'new' if a is None else 'old'} model")
            continue
        delta = round(b - a, 4)
        ok = delta >= -tolerance - _EPS
        sets[name] = SetCheck("fixed", a, b, delta, ok, counts.get(name))
        if not ok:
            reasons.append(
                f"{name}: macro-F1 fell {-delta:.2f} points, more than the tolerance {tolerance:g}"
            )
    slices = [k for k in dict.fromkeys([*names, *counts]) if is_new_labels(k, new_labels)] or [new_labels]
    for name in slices:
        a, b = old.get(name), new.get(name)
        if a is None or b is None or not counts.get(name, 1):
            sets[name] = SetCheck("new_labels", a, b, None, False, counts.get(name))
            reasons.append(f"{name}: no held-back new labels to judge by; label more texts (or use --force)")
            continue
        delta = round(b - a, 4)
        ok = delta > min_gain + _EPS
        sets[name] = SetCheck("new_labels", a, b, delta, ok, counts.get(name))
        if not ok:
            reasons.append(
                f"{name}: macro-F1 changed {delta:+.2f} points; it must gain more than {min_gain:g}"
            )
    return GateDecision(
        passed=not reasons,
        compared_to=compared_to,
        tolerance=tolerance,
        min_gain=min_gain,
        sets=sets,
        reasons=reasons,
    )
