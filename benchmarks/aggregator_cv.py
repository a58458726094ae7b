"""Compare the article aggregator's C and source weights by cross-validation on its own fit data.

    .venv/bin/python benchmarks/aggregator_cv.py --config training/configs/default-stage5.yaml \\
        --model runs/soup5 --source primaries-dev-a --weights 0,0.25,0.5,1 --cs 0.01,0.03,0.1,0.3

Reads the config's ``aggregator.data`` (for the shipped recipe: PerSenT fold A and fold a of the
primaries set) through the model's calibrated window probabilities once, then for every (C, weight of
``--source``) fits the aggregator as ``slant train`` does (:func:`training.aggregator.fit_features`)
in ``--folds`` folds grouped by article text (so the pairs of one primaries article stay together) and
scores each source's held-out folds: macro-F1 and neutral F1 per source over the articles long
enough for the aggregator. Nothing here reads an eval set, so the point it picks does not flatter
PerSenT fold B or primaries fold b; ``--also-eval`` adds, for the record only, those sets' scores of
the aggregator fitted on all the fit data (over their articles long enough for the aggregator,
macro over the gold labels present: not the model card's whole-set ``predict()`` numbers). A
weight of 0 leaves a source out of the fit but not out of the feature scaling, and a config cannot
set it (weights must be above 0): it is a reference row.
"""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from model import StancePredictor
from training.aggregator import article_features, fit_features
from training.config import load_config
from training.data import load_rows


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _scores(gold: list[str], pred: list[str]) -> str:
    """ "macro-F1 / neutral F1" (macro over the gold labels present)."""
    macro = 100 * f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)
    neutral = 100 * f1_score(gold, pred, labels=["neutral"], average="macro", zero_division=0)
    return f"{macro:.1f} / {neutral:.1f}"


def cross_validated(
    x: np.ndarray, gold: list[str], rows: list[dict[str, Any]], labels: list[str], *, c: float,
    weights: dict[str, float], folds: int, seed: int,
) -> list[str]:  # fmt: skip
    """Each article's label from an aggregator fitted on the other folds."""
    groups = [hashlib.sha1(r["text"].encode()).hexdigest() for r in rows]
    strata = [f"{r.get('dataset')}:{g}" for r, g in zip(rows, gold, strict=True)]
    pred = [""] * len(gold)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit, held in splitter.split(x, strata, groups):
        agg = fit_features(
            x[fit], [gold[i] for i in fit], [rows[i] for i in fit], labels, c=c, weights=weights
        )
        probs = agg.from_features(x[held], labels)
        for i, p in zip(held, probs, strict=True):
            pred[i] = labels[int(p.argmax())]
    return pred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="training/configs/default-stage4.yaml")
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--source", required=True, help="the aggregator source whose weight is swept")
    ap.add_argument("--weights", default="0,0.25,0.5,1")
    ap.add_argument("--cs", default="0.01,0.03,0.1,0.3,1")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--also-eval", default="", help="eval sets to score with the all-data fit (record only)")
    args = ap.parse_args()
    config = load_config(args.config)
    predictor = StancePredictor.load(args.model, max_windows=config.aggregator.max_windows, backend="torch")
    rows = [r for spec in config.aggregator.data for r in load_rows(spec, config.data_root)]
    x, gold, kept = article_features(predictor, rows)
    rows = [rows[i] for i in kept]
    sources = sorted({str(r.get("dataset")) for r in rows})
    if args.source not in sources:
        raise SystemExit(f"--source {args.source!r} is not one of the aggregator's sources {sources}")
    evals = {}
    for spec in config.eval:
        if spec.name in args.also_eval.split(","):
            ex, eg, _ = article_features(predictor, load_rows(spec, config.data_root))
            evals[spec.name] = (ex, eg)
    head = ["C", f"{args.source} weight"] + [f"{s} CV macro-F1 / neutral F1" for s in sources]
    head += [f"{n} (all-data fit, record only)" for n in evals]
    print(f"{len(rows)} articles long enough for the aggregator ({', '.join(sources)}); {args.folds} folds")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for c in _floats(args.cs):
        for w in _floats(args.weights):
            weights = {**config.aggregator.weights, args.source: w}  # the config's other sources as set
            pred = cross_validated(
                x, gold, rows, predictor.labels, c=c, weights=weights, folds=args.folds, seed=args.seed
            )
            cells = [str(c), str(w)]
            for s in sources:
                idx = [i for i, r in enumerate(rows) if r.get("dataset") == s]
                cells.append(_scores([gold[i] for i in idx], [pred[i] for i in idx]))
            if evals:  # the all-data fit, only when something scores it
                agg = fit_features(x, gold, rows, predictor.labels, c=c, weights=weights)
                for ex, eg in evals.values():
                    ep = [predictor.labels[int(p.argmax())] for p in agg.from_features(ex, predictor.labels)]
                    cells.append(_scores(eg, ep))
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
