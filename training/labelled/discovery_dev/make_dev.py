"""Build the discovery dev set from two independent gold lists (see README.md).

    python training/labelled/discovery_dev/make_dev.py --articles /work/annot/disc/articles.jsonl \
        --gold /work/annot/disc/L1/gold.jsonl --gold /work/annot/disc/L2/gold.jsonl \
        --out training/labelled/discovery_dev

An actor is kept when both annotators list it (names matched after normalising: case, "the",
"U.S.", punctuation, a possessive; or one's canonical name among the other's surface forms);
its surface forms and titles are those both list, its pronoun count the smaller of the two, its
rank the mean of the two ranks (re-numbered).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def norm(name: str) -> str:
    s = name.lower().replace("’", "'")
    s = re.sub(r"'s$", "", s)
    s = re.sub(r"\b(?:the|u\.s\.|us|united states|state of)\b", " ", s)
    return " ".join(re.sub(r"[^\w&]+", " ", s).split())


def same(a: dict, b: dict) -> bool:
    na, nb = norm(a["name"]), norm(b["name"])
    if na == nb:
        return True
    # "Bipartisan Senate immigration group (Gang of Eight)" and "Bipartisan Senate immigration group"
    if min(len(na.split()), len(nb.split())) >= 3 and (na.startswith(nb) or nb.startswith(na)):
        return True
    forms_a = {norm(f) for f in a.get("names", [])}
    forms_b = {norm(f) for f in b.get("names", [])}
    return na in forms_b or nb in forms_a


def merge(x: list[dict], y: list[dict]) -> tuple[list[dict], int]:
    used: set[int] = set()
    kept = []
    for a in x:
        for j, b in enumerate(y):
            if j not in used and same(a, b):
                used.add(j)
                names = sorted(set(a.get("names", [])) & set(b.get("names", [])))
                titles = sorted(
                    {t for t in a.get("titles", []) if t.lower() in {u.lower() for u in b.get("titles", [])}}
                )
                kept.append(
                    {
                        "name": a["name"] if len(a["name"]) >= len(b["name"]) else b["name"],
                        "also": sorted({a["name"], b["name"]}),
                        "_rank": (a["rank"] + b["rank"]) / 2,
                        "names": names,
                        "titles": titles,
                        "pronouns": min(int(a.get("pronouns", 0)), int(b.get("pronouns", 0))),
                    }
                )
                break
    kept.sort(key=lambda t: t["_rank"])
    for i, t in enumerate(kept, 1):
        t["rank"] = i
        del t["_rank"]
    return kept, len(x) + len(y) - len(kept)


def read(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", required=True)
    ap.add_argument("--gold", action="append", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    a, b = ({(r := json.loads(line))["doc"]: r for line in read(g)} for g in args.gold)
    articles = [json.loads(line) for line in read(args.articles)]
    rows, stats = [], {"docs": 0, "l1": 0, "l2": 0, "both": 0, "union": 0, "top5_both": 0, "top5_l1": 0}
    for art in articles:
        x, y = a[art["doc"]]["actors"], b[art["doc"]]["actors"]
        kept, union = merge(x, y)
        stats["docs"] += 1
        stats["l1"] += len(x)
        stats["l2"] += len(y)
        stats["both"] += len(kept)
        stats["union"] += union
        top_x, top_y = x[:5], y[:5]
        stats["top5_l1"] += len(top_x)
        stats["top5_both"] += sum(any(same(p, q) for q in top_y) for p in top_x)
        rows.append({k: art[k] for k in ("doc", "id", "source", "date", "title", "text")} | {"actors": kept})
    out = Path(args.out)
    with open(out / "discovery_dev.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    stats["jaccard"] = round(stats["both"] / stats["union"], 3)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
