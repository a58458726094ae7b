"""Blind packets and the agreement merge for a batch of hand-written contrast items.

    # the second annotator's packet: id, actor and text only, shuffled
    .venv/bin/python training/labelled/contrast_train/agree_contrast.py blind \\
        --items /tmp/c4/c4a.jsonl --seed 4 --out /tmp/c4/blind_c4a.jsonl
    # keep what the writer and the blind annotator labelled alike, minus near-copies of dev items
    .venv/bin/python training/labelled/contrast_train/agree_contrast.py merge \\
        --pair /tmp/c4/c4a.jsonl,/tmp/c4/labels_c4a.jsonl --pair /tmp/c4/c4b.jsonl,/tmp/c4/labels_c4b.jsonl \\
        --out training/labelled/contrast_train/contrast_train_4.jsonl

A multi-actor text is kept whole or not at all: if the two labelings disagree on one of its actors,
every row of its ``group`` is dropped, so that a kept text never lacks one of its actors. An item
whose word set overlaps a contrast-dev item's by a Jaccard index above ``--max-jaccard`` is dropped
too (the dev set is read here only, never shown to writers or annotators).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "news_windows"))
from agree_windows import agreed  # noqa: E402

DEV = HERE.parent / "contrast_dev" / "contrast_dev.jsonl"


def _rows(path: str | Path) -> list[dict[str, Any]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def _label(raw: str) -> str:
    """Both labelings compared alike: "Favor", "favour " and "favor" are one label."""
    label = raw.strip().lower()
    return {"favour": "favor"}.get(label, label)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(len(a | b), 1)


def blind(items: str, seed: int, out: str) -> None:
    rows = _rows(items)
    random.Random(seed).shuffle(rows)
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "target": r["target"], "text": r["text"]}) + "\n")
    print(f"{len(rows)} items -> {out}")


def merge(pairs: list[str], out: str, max_jaccard: float) -> None:
    items: dict[str, dict[str, Any]] = {}
    label_pairs = []
    for pair in pairs:
        written, labelled = pair.split(",")
        rows = _rows(written)
        items.update({r["id"]: r for r in rows})
        second = {r["id"]: _label(r["label"]) for r in _rows(labelled)}
        label_pairs.append(({r["id"]: _label(r["label"]) for r in rows}, second))
    kept = dict(agreed(label_pairs, known=set(items)))
    dev = [words(r["text"]) for r in _rows(DEV)]
    near = {
        i for i in kept if max((jaccard(words(items[i]["text"]), d) for d in dev), default=0.0) > max_jaccard
    }
    # A text is kept whole or not at all: one disagreed or near-dev row drops every row of its group.
    broken = {items[i]["group"] for i in items if items[i].get("group") and (i not in kept or i in near)}
    final = [items[i] for i in sorted(kept) if i not in near and items[i].get("group") not in broken]
    print(
        f"kept {len(final)} of {len(items)}: {len(items) - len(kept)} disagreed or missing, "
        f"{len(broken)} multi-actor texts dropped whole, {len(near)} near a dev item"
    )
    print(
        "kinds:", dict(Counter(r["kind"] for r in final)), "labels:", dict(Counter(r["label"] for r in final))
    )
    with open(out, "w", encoding="utf-8") as f:
        for r in final:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("blind", help="the blind annotator's packet")
    b.add_argument("--items", required=True)
    b.add_argument("--seed", type=int, default=4)
    b.add_argument("--out", required=True)
    m = sub.add_parser("merge", help="keep the items both labelings agree on")
    m.add_argument("--pair", action="append", required=True, help="writer's items,blind labels")
    m.add_argument("--max-jaccard", type=float, default=0.5)
    m.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "blind":
        blind(args.items, args.seed, args.out)
    else:
        merge(args.pair, args.out, args.max_jaccard)


if __name__ == "__main__":
    main()
