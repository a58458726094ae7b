"""Dev-set table for one or more models, side by side (model selection for the stance model).

    .venv/bin/python benchmarks/dev_table.py --config training/configs/default-stage4.yaml \\
        --model models/default --model runs/stage3 [--sets contrast-dev,pstance-dev] [--out report.json]

Reads the config's ``eval`` sets (slant's contrast dev set among them) through the predictor,
as ``slant train`` does, and prints macro-F1, F_avg, accuracy, neutral F1 and ECE per set, and
per kind for the contrast sets. ``--paired N`` adds, for each model after the first, the paired
bootstrap of its macro-F1 gain over the first model on each set (N resamples of the set's items,
the same items for both models): the gain, its 95% interval, and how many items they label
differently. A gain whose interval straddles 0 is within what resampling the dev set moves.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from model import StancePredictor
from training.config import load_config
from training.data import load_rows
from training.evaluate import evaluate_rows, predict_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="training/configs/default-stage4.yaml")
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--sets", default="")
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--out")
    ap.add_argument("--paired", type=int, default=0, help="bootstrap resamples of the paired gain (0: none)")
    args = ap.parse_args()
    config = load_config(args.config)
    wanted = [s for s in args.sets.split(",") if s]
    specs = [s for s in config.eval if not wanted or s.name in wanted]
    rows = {s.name: load_rows(s, config.data_root) for s in specs}
    report: dict[str, dict[str, object]] = {}
    predicted: dict[str, dict[str, np.ndarray]] = {}
    for path in args.model:
        predictor = StancePredictor.load(path, backend=args.backend)
        report[path], predicted[path] = {}, {}
        for name, part in rows.items():
            t = time.perf_counter()
            answer = predict_rows(predictor, part)
            report[path][name] = evaluate_rows(predictor, part, name, predicted=answer)
            predicted[path][name] = np.array(predictor.labels)[answer[0].argmax(axis=1)]
            print(f"# {path} {name}: {len(part)} rows in {time.perf_counter() - t:.0f} s", flush=True)
    print("| set | model | n | macro-F1 | F_avg | acc | neutral F1 | ECE |")
    print("|---|---|---|---|---|---|---|---|")
    for name in rows:
        for path in args.model:
            m = report[path][name]
            print(
                f"| {name} | {path} | {m['n']} | {m['macro_f1']} | {m['f_avg']} | {m['accuracy']} "
                f"| {m['f1_per_class']['neutral']} | {m['ece']} |"
            )
    kinds = [n for n in rows if any("per_kind" in report[p][n] for p in args.model)]
    for name in kinds:
        print(f"\n{name} accuracy by kind")
        first = report[args.model[0]][name]["per_kind"]
        print("| kind | n | " + " | ".join(args.model) + " |")
        print("|---|---|" + "---|" * len(args.model))
        for kind in first:
            accs = [str(report[p][name]["per_kind"][kind]["accuracy"]) for p in args.model]
            print(f"| {kind} | {first[kind]['n']} | " + " | ".join(accs) + " |")
    if args.paired:
        _paired_table(args.model, rows, predicted, args.paired)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)


def paired_gain(
    gold: np.ndarray, old: np.ndarray, new: np.ndarray, resamples: int, seed: int = 0
) -> tuple[float, float, float]:
    """macro-F1 of ``new`` minus that of ``old`` on the same items, and the 2.5% and 97.5%
    quantiles of that gain over ``resamples`` bootstrap resamples of the items (paired).

    >>> gold = np.array(["favor", "against"] * 20)
    >>> gain, low, high = paired_gain(gold, gold, gold, 200)
    >>> (gain, low, high)
    (0.0, 0.0, 0.0)
    """
    from sklearn.metrics import f1_score

    def f1(pred: np.ndarray, idx: np.ndarray) -> float:
        # averaged over the gold classes present, as training.metrics.stance_metrics does
        labels = sorted(set(gold[idx]))
        return float(f1_score(gold[idx], pred[idx], labels=labels, average="macro", zero_division=0))

    everything = np.arange(len(gold))
    gain = 100 * (f1(new, everything) - f1(old, everything))
    rng = np.random.default_rng(seed)
    draws = [
        100 * (f1(new, idx) - f1(old, idx))
        for idx in (rng.integers(0, len(gold), len(gold)) for _ in range(resamples))
    ]
    low, high = np.percentile(draws, [2.5, 97.5])
    return round(gain, 2), round(float(low), 2), round(float(high), 2)


def _paired_table(
    models: list[str],
    rows: dict[str, list[dict[str, object]]],
    predicted: dict[str, dict[str, np.ndarray]],
    n: int,
) -> None:
    first = models[0]
    print(f"\npaired bootstrap of the macro-F1 gain over {first} ({n} resamples)")
    print("| set | model | gain | 95% interval | items labelled differently |")
    print("|---|---|---|---|---|")
    for name, part in rows.items():
        gold = np.array([r["label"] for r in part])
        for path in models[1:]:
            old, new = predicted[first][name], predicted[path][name]
            gain, low, high = paired_gain(gold, old, new, n)
            print(
                f"| {name} | {path} | {gain:+.2f} | [{low:+.2f}, {high:+.2f}] | {int((old != new).sum())} |"
            )


if __name__ == "__main__":
    main()
