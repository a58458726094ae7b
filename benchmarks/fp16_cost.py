"""Estimate the accuracy cost of shipping fp16 weights.

The shipped weights are stored in fp16 (45 MB instead of 90 MB) and computed in fp32. Rounding
fp32 to fp16 moves each weight by at most 2**-11 of its value. This script applies a second,
independent perturbation of exactly that size to the shipped weights and reports how many dev
predictions change and how the metrics move: the same-sized effect as the fp32 -> fp16 export.

    .venv/bin/python benchmarks/fp16_cost.py [--model models/default]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from model import StancePredictor
from training.config import load_config
from training.data import load_rows
from training.metrics import stance_metrics

SETS = ("semeval2016a-dev", "pstance-dev", "newsmtsc-rw-dev", "newsmtsc-mt-dev")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--config", default="training/configs/default.yaml")
    args = parser.parse_args()
    cfg = load_config(args.config)
    predictor = StancePredictor.load(args.model, device="cpu")
    specs = [s for s in cfg.eval if s.name in SETS]
    data = {s.name: load_rows(s, cfg.data_root) for s in specs}

    def score() -> dict[str, np.ndarray]:
        return {
            n: predictor.score_pairs([r["target"] for r in rows], [r["text"] for r in rows])
            for n, rows in data.items()
        }

    base = score()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in predictor.model.parameters():
            u = (torch.rand(p.shape, generator=gen) * 2 - 1) * 2.0**-11
            p.mul_(1 + u)
    noisy = score()
    print(
        "| dev set | rows | macro-F1 shipped | macro-F1 perturbed | predictions changed | max prob change |"
    )
    print("|---|---|---|---|---|---|")
    for n, rows in data.items():
        gold = [r["label"] for r in rows]
        a = stance_metrics(gold, base[n], predictor.labels)["macro_f1"]
        b = stance_metrics(gold, noisy[n], predictor.labels)["macro_f1"]
        changed = int((base[n].argmax(1) != noisy[n].argmax(1)).sum())
        print(f"| {n} | {len(rows)} | {a} | {b} | {changed} | {np.abs(base[n] - noisy[n]).max():.5f} |")


if __name__ == "__main__":
    main()
