"""Fitting the article aggregator on labelled whole articles.

The fine-tuned classifier reads one window (a mention sentence and its neighbours) at a time;
this step learns how window-level probabilities add up to an article-level stance. It is a
10-feature multinomial logistic regression with balanced class weights, small enough to fit on a
few hundred articles without over-fitting, and stored as plain numbers in slant.json.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from model import StancePredictor
from model.aggregate import FEATURES, LogisticAggregator, window_features

from .evaluate import actor_of

log = logging.getLogger(__name__)


def article_features(
    predictor: StancePredictor, rows: list[dict[str, Any]]
) -> tuple[np.ndarray, list[str], list[int]]:
    """Window features of every row that is long enough to be scored as an article, the rows' gold
    labels, and which rows they are (indices into ``rows``)."""
    feats, gold, kept = [], [], []
    for i, r in enumerate(rows):
        probs, short = predictor.window_probabilities(r["text"], actor_of(r))
        if short or len(probs) == 0:
            continue
        feats.append(window_features(probs, predictor.labels))
        gold.append(r["label"])
        kept.append(i)
    return np.array(feats), gold, kept


def balanced_weights(
    gold: list[str], rows: list[dict[str, Any]], weights: dict[str, float] | None = None
) -> np.ndarray:
    """Each row's weight: its source's (``weights``, default 1) times its class's balanced weight,
    with the classes balanced on the source-weighted counts (what scikit-learn's
    ``class_weight="balanced"`` does with ``sample_weight`` since 1.6, done here so that older
    versions fit the same aggregator).

    >>> balanced_weights(["favor", "favor", "neutral"], [{}, {}, {}]).round(2).tolist()
    [0.75, 0.75, 1.5]
    """
    w = np.array([(weights or {}).get(str(r.get("dataset")), 1.0) for r in rows], dtype=np.float64)
    labels = np.array(gold)
    classes = sorted(set(gold))
    per_class = {k: w[labels == k].sum() for k in classes}
    return w * np.array([w.sum() / (len(classes) * per_class[k]) for k in gold])


def fit_aggregator(
    predictor: StancePredictor,
    rows: list[dict[str, Any]],
    *,
    c: float = 1.0,
    sources: list[str] | None = None,
    weights: dict[str, float] | None = None,
) -> LogisticAggregator:
    """Fit a LogisticAggregator on labelled articles (rows with text, target, label).

    ``weights`` gives the rows of a source (their ``dataset``) a weight other than 1, on top of the
    balanced class weights: a small set of articles labelled as slant labels stance can pull the
    fit without outweighing a larger set labelled by another scheme.
    """
    x, gold, kept = article_features(predictor, rows)
    if len(set(gold)) < 2:
        raise ValueError(
            f"need articles of at least two labels to fit the aggregator, found {sorted(set(gold))}"
        )
    agg = fit_features(x, gold, [rows[i] for i in kept], predictor.labels, c=c, weights=weights)
    agg.info = {
        "articles": len(gold),
        "c": c,
        "sources": sources or [],
        "label_counts": {k: gold.count(k) for k in sorted(set(gold))},
        **({"weights": dict(weights)} if weights else {}),
    }
    log.info("aggregator fitted on %d articles", len(gold))
    return agg


def fit_features(
    x: np.ndarray,
    gold: list[str],
    rows: list[dict[str, Any]],
    labels: list[str],
    *,
    c: float = 1.0,
    weights: dict[str, float] | None = None,
) -> LogisticAggregator:
    """The logistic aggregator fitted on article features ``x`` (:func:`article_features`) and their
    ``gold`` labels; ``rows`` are the articles' rows (for their source's weight). Also what
    ``benchmarks/aggregator_cv.py`` fits in each fold."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit((x - mean) / scale, gold, sample_weight=balanced_weights(gold, rows, weights))
    classes = [str(k) for k in clf.classes_]
    coef, intercept = clf.coef_, clf.intercept_
    if len(classes) == 2:  # binary fit: expand to the symmetric multinomial form
        coef, intercept = (
            np.vstack([-coef[0] / 2, coef[0] / 2]),
            np.array([-intercept[0] / 2, intercept[0] / 2]),
        )
    for label in labels:  # a class absent from the fit data can never win
        if label not in classes:
            classes.append(label)
            coef = np.vstack([coef, np.zeros(len(FEATURES))])
            intercept = np.append(intercept, -1e3)
    return LogisticAggregator(coef, intercept, mean, scale, classes, {})
