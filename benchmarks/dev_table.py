"""Dev-set table for one or more models, side by side (model selection for the stance model).

    .venv/bin/python benchmarks/dev_table.py --config training/configs/default-stage3.yaml \\
        --model models/default --model runs/stage3 [--sets contrast-dev,pstance-dev] [--out report.json]

Reads the config's ``eval`` sets (slant's contrast dev set among them) through the predictor,
as ``slant train`` does, and prints macro-F1, F_avg, accuracy, neutral F1 and ECE per set, and
per kind for the contrast sets.
"""

from __future__ import annotations

import argparse
import json
import time

from model import StancePredictor
from training.config import load_config
from training.data import load_rows
from training.evaluate import evaluate_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="training/configs/default-stage3.yaml")
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--sets", default="")
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--out")
    args = ap.parse_args()
    config = load_config(args.config)
    wanted = [s for s in args.sets.split(",") if s]
    specs = [s for s in config.eval if not wanted or s.name in wanted]
    rows = {s.name: load_rows(s, config.data_root) for s in specs}
    report: dict[str, dict[str, object]] = {}
    for path in args.model:
        predictor = StancePredictor.load(path, backend=args.backend)
        report[path] = {}
        for name, part in rows.items():
            t = time.perf_counter()
            report[path][name] = evaluate_rows(predictor, part, name)
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
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
