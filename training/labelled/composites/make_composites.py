"""Two-actor training texts composed from single-actor items whose labels both annotators agreed on.

A model that reads the mood of a text gives every actor in it the same label; the contrast dev
set's multi-actor texts show it (v4: 45% right). Hand-written multi-actor items are few (385), so
this script composes more from items that are already labelled: two single-actor items about
*different* actors, joined into one short text, give one row per actor, each with its own item's
label. Since neither item names the other's actor, each label stays true of the joined text, and
the only way to get both rows right is to read which span the marker points at.

Parts come from the training side only: the hand-written contrast items (``contrast_train/``, all
kinds but ``multi_actor``) and the train split of the news windows (``news_windows/``, the short
ones). Three in four pairs have different labels, one in four the same, so that "two actors" never
means "opposite labels". The order of the two parts is random.

    python training/labelled/composites/make_composites.py            # writes composites.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELLED = HERE.parent
SOURCES = (
    LABELLED / "contrast_train" / "contrast_train.jsonl",
    LABELLED / "contrast_train" / "contrast_train_2.jsonl",
    LABELLED / "contrast_train" / "contrast_train_3.jsonl",
    LABELLED / "news_windows" / "news_windows.jsonl",
)


def names(row: dict) -> set[str]:
    """Every way a part may name its actor: the name, its aliases and its last word."""
    target = row["target"].strip()
    found = {target, target.split()[-1], *(a.strip() for a in row.get("aliases") or [])}
    return {n.lower() for n in found if len(n) > 2}


def names_in(found: set[str], text: str) -> bool:
    low = text.lower()
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", low) for n in found)


def parts(max_chars: int) -> list[dict]:
    out = []
    for path in SOURCES:
        if not path.exists():
            continue
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            if row.get("kind") == "multi_actor" or row.get("split", "train") != "train":
                continue
            if len(row["text"]) > max_chars or row["label"] not in {"favor", "against", "neutral"}:
                continue
            out.append(row)
    return out


def compose(pool: list[dict], n: int, seed: int, max_chars: int) -> list[dict]:
    rng = random.Random(seed)
    by_label: dict[str, list[dict]] = {}
    for row in pool:
        by_label.setdefault(row["label"], []).append(row)
    labels = sorted(by_label)
    rows, seen = [], set()
    tries = 0
    while len(rows) < 2 * n and tries < 50 * n:
        tries += 1
        a = rng.choice(pool)
        same = rng.random() < 0.25
        if same:
            b = rng.choice(by_label[a["label"]])
        else:
            b = rng.choice(by_label[rng.choice([x for x in labels if x != a["label"]])])
        key = tuple(sorted((a["id"], b["id"])))
        if key in seen or a["target"].lower() == b["target"].lower():
            continue
        if names_in(names(a), b["text"]) or names_in(names(b), a["text"]):
            continue
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        text = f"{first['text'].strip()} {second['text'].strip()}"
        if len(text) > 2 * max_chars:
            continue
        seen.add(key)
        group = f"cx-{len(seen):04d}"
        for part in (first, second):
            rows.append(
                {
                    "id": f"{group}-{part['id']}",
                    "kind": "composite",
                    "group": group,
                    "target": part["target"],
                    "aliases": part.get("aliases") or [],
                    "label": part["label"],
                    "part_kind": part.get("kind", "news_window"),
                    "text": text,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000, help="how many two-actor texts")
    parser.add_argument("--max-chars", type=int, default=300, help="longest part, in characters")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=HERE / "composites.jsonl")
    args = parser.parse_args()
    rows = compose(parts(args.max_chars), args.pairs, args.seed, args.max_chars)
    with args.output.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows) // 2} texts, {len(rows)} rows -> {args.output}")


if __name__ == "__main__":
    main()
