"""Keep the (article, actor) labels two annotators gave alike; write ``primaries_dev.jsonl``.

    .venv/bin/python training/labelled/primaries_dev/agree.py --packets /tmp/primaries \\
        --pair labels_p1_A.jsonl,labels_p1_B.jsonl --pair labels_p2_C.jsonl,labels_p2_D.jsonl

Prints the agreement and Cohen's kappa on the pairs both labelled favor/against/neutral. Only ids,
actors and labels are written: the text stays in the corpus (``text_from`` in the eval spec).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from training.data import _in_holdout

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "news_windows"))
from agree_windows import agreed  # noqa: E402


def _labels(path: Path) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out[(r["article"], r["actor"])] = r["label"].strip().lower()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", required=True)
    ap.add_argument("--pair", action="append", required=True, help="two label files of one packet")
    ap.add_argument("--out", default=str(Path(__file__).with_name("primaries_dev.jsonl")))
    args = ap.parse_args()
    root = Path(args.packets)
    lines = (root / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    articles = {r["id"]: r for r in map(json.loads, lines)}
    kept = agreed([tuple(_labels(root / name) for name in pair.split(",")) for pair in args.pair])
    with open(args.out, "w") as f:
        for i, ((art, actor), label) in enumerate(sorted(kept), start=1):
            a = articles[art]
            row = {
                "id": f"pd-{i:04d}",
                "article": art,
                "source": a["source"],
                "leaning": a["leaning"],
                "date": a["date"],
                "target": actor,
                "label": label,
                "fold": "b" if _in_holdout(art, 0.5) else "a",
            }
            f.write(json.dumps(row) + "\n")
    print(f"kept {len(kept)} -> {args.out}:", dict(Counter(label for _, label in kept)))


if __name__ == "__main__":
    main()
