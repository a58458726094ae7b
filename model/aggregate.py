"""From per-window probabilities to one stance per actor in an article.

A window is a mention sentence with its neighbours. The default aggregator is the mean of the
window probabilities. A trained model directory can carry a *logistic* aggregator, fitted on
labelled whole articles (``training.aggregator``), that reads summary features of the windows:
how strongly and how often they lean each way, and how many there are. It is a 3x10 matrix in
``slant.json``, so it needs no pickles and no scikit-learn at inference time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .numeric import softmax

FEATURES = (
    "mean_against",
    "mean_neutral",
    "mean_favor",
    "max_against",
    "max_favor",
    "min_neutral",
    "share_against",
    "share_favor",
    "lead_against",
    "lead_favor",
)


def window_features(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    """Summary features of a (windows x labels) probability matrix, in FEATURES order."""
    idx = {label: i for i, label in enumerate(labels)}
    a, n, f = probs[:, idx["against"]], probs[:, idx["neutral"]], probs[:, idx["favor"]]
    top = probs.argmax(axis=1)
    return np.array(
        [
            a.mean(),
            n.mean(),
            f.mean(),
            a.max(),
            f.max(),
            n.min(),
            (top == idx["against"]).mean(),
            (top == idx["favor"]).mean(),
            a[0],
            f[0],  # the first mention (headline or lead) sets the frame of a news story
        ],
        dtype=np.float64,
    )


class Aggregator:
    """Mean of the window probabilities; subclasses learn something better."""

    kind = "mean"

    def __call__(self, probs: np.ndarray, labels: list[str]) -> np.ndarray:
        return probs.mean(axis=0)

    def to_json(self) -> dict[str, Any] | None:
        return None


class LogisticAggregator(Aggregator):
    """Multinomial logistic regression over standardised window features."""

    kind = "logistic"

    def __init__(
        self,
        coef: np.ndarray,
        intercept: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        classes: list[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        self.coef, self.intercept = np.asarray(coef, float), np.asarray(intercept, float)
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.classes = list(classes)
        self.info = info or {}

    def __call__(self, probs: np.ndarray, labels: list[str]) -> np.ndarray:
        return self.from_features(window_features(probs, labels)[None, :], labels)[0]

    def from_features(self, features: np.ndarray, labels: list[str]) -> np.ndarray:
        """Article probabilities for rows of :func:`window_features`, columns in ``labels`` order
        (whatever order the classes were fitted in)."""
        logits = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        return softmax(logits)[:, [self.classes.index(label) for label in labels]]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "features": list(FEATURES),
            "classes": self.classes,
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "info": self.info,
        }


def aggregator_from_json(raw: dict[str, Any] | None) -> Aggregator:
    if not raw:
        return Aggregator()
    if raw.get("type") != "logistic" or list(raw.get("features", [])) != list(FEATURES):
        from .errors import ModelLoadError

        raise ModelLoadError(
            f"unknown aggregator {raw.get('type')!r} with features {raw.get('features')}",
            fix="re-fit it with this slant version (`slant train`), or remove 'aggregator' from slant.json",
        )
    return LogisticAggregator(
        raw["coef"], raw["intercept"], raw["mean"], raw["scale"], raw["classes"], raw.get("info")
    )
