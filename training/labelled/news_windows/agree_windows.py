"""Keep the windows two annotators labelled alike (favor/against/neutral); print agreement and kappa.

    .venv/bin/python training/labelled/news_windows/agree_windows.py --windows /tmp/nq/kept.jsonl \\
        --pair /tmp/nq/labels_p1_A.jsonl,/tmp/nq/labels_p1_B.jsonl \\
        --pair /tmp/nq/labels_p2_C.jsonl,/tmp/nq/labels_p2_D.jsonl --split train \\
        --out training/labelled/news_windows/news_windows_4.jsonl

``--split train`` puts every kept window on the training side (a batch whose articles were kept
apart from every dev set); ``--split by-article`` gives 20% of the articles to ``dev`` by a hash of
the article id, as the first three batches did.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sklearn.metrics import cohen_kappa_score

from training.data import _in_holdout

LABELS = ("against", "neutral", "favor")


def _labels(path: str) -> dict[str, str]:
    rows = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["id"]: r["label"].strip().lower() for r in rows}


def agreed(pairs: Iterable[Sequence[dict[Any, str]]], known: set[Any] | None = None) -> list[tuple[Any, str]]:
    """The (key, label) items both annotators of a pair labelled alike (favor/against/neutral), in
    key order per pair; prints the agreement and Cohen's kappa over the items both labelled with one
    of those three. An item one side lacks (or, with ``known``, that is not a known item) is counted
    as missing and not kept. Also used by ``../primaries_dev/agree.py``."""
    both_a, both_b, kept, missing = [], [], [], 0
    for first, second in pairs:
        for key in sorted(first.keys() | second.keys()):
            la, lb = first.get(key), second.get(key)
            if la is None or lb is None or (known is not None and key not in known):
                missing += 1
                continue
            if la in LABELS and lb in LABELS:
                both_a.append(la)
                both_b.append(lb)
                if la == lb:
                    kept.append((key, la))
    agree = sum(a == b for a, b in zip(both_a, both_b, strict=True))
    share = 100 * agree / len(both_a)
    print(
        f"both labelled favor/against/neutral: {len(both_a)}; agreed {agree} ({share:.1f}%),"
        f" kappa {cohen_kappa_score(both_a, both_b):.2f}; missing on one side: {missing}"
    )
    return kept


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", required=True, help="the sampled windows (make_windows.py output)")
    ap.add_argument("--pair", action="append", required=True, help="two annotators' label files")
    ap.add_argument("--split", choices=("train", "by-article"), default="train")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    lines = Path(args.windows).read_text(encoding="utf-8").splitlines()
    windows = {r["id"]: r for r in map(json.loads, lines)}
    pairs = [tuple(_labels(p) for p in pair.split(",")) for pair in args.pair]
    kept = agreed(pairs, known=set(windows))
    with open(args.out, "w", encoding="utf-8") as f:
        for wid, label in kept:
            w = windows[wid]
            dev = args.split == "by-article" and _in_holdout(w["article"], 0.2)
            split = "dev" if dev else "train"
            row = {
                "id": wid,
                "split": split,
                "article": w["article"],
                "source": w["source"],
                "leaning": w["leaning"],
                "date": w["date"],
                "target": w["actor"],
                "aliases": w["aliases"],
                "label": label,
                "text": w["text"],
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"kept {len(kept)} -> {args.out}:", dict(Counter(label for _, label in kept)))


if __name__ == "__main__":
    main()
