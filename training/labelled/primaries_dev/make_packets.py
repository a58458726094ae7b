"""Sample 2015-2016 Article-Bias-Prediction articles about the primaries for article-level labels.

    .venv/bin/python training/labelled/primaries_dev/make_packets.py --out /tmp/primaries

Writes ``articles.jsonl`` (id, source, leaning, date, title, actors to label, text) and one
packet per annotator group. The text is the article's ``content_original`` as the corpus holds
it; only ids, actors and labels are committed (``primaries_dev.jsonl``), and the evaluation reads
the text back from ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "news_windows"))
from make_windows import _opinion  # noqa: E402

ACTORS = {
    "Bernie Sanders": r"\b(Sanders|Bernie)\b",
    "Hillary Clinton": r"\b(Hillary|(?<!Bill )Clinton(?!'s foundation| Foundation))\b",
    "Democratic National Committee": r"\b(DNC|Democratic National Committee)\b",
    "Donald Trump": r"\bTrump\b",
}
MIN_MENTIONS = 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/article_bias_prediction/articles.jsonl.xz")
    ap.add_argument("--windows", default="training/labelled/news_windows/news_windows.jsonl")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-leaning", type=int, default=36)
    ap.add_argument("--seed", type=int, default=55)
    args = ap.parse_args()
    lines = Path(args.windows).read_text(encoding="utf-8").splitlines()
    used = {json.loads(line)["article"] for line in lines}
    pools: dict[tuple[str, bool], list[dict]] = {}
    with lzma.open(args.data, "rt") as f:
        for line in f:
            a = json.loads(line)
            text = a.get("content_original") or ""
            if a["ID"] in used or not ("2015-06" <= a["date"][:7] <= "2016-11"):
                continue
            if not 1500 <= len(text) <= 7000:
                continue
            counts = {n: len(re.findall(p, text)) for n, p in ACTORS.items()}
            actors = [n for n, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= MIN_MENTIONS][:3]
            if not actors:
                continue
            row = {
                "id": a["ID"],
                "source": a["source"],
                "leaning": a["bias_text"],
                "date": a["date"],
                "title": a["title"],
                "actors": actors,
                "text": text,
            }
            pools.setdefault((a["bias_text"], _opinion(a["source"])), []).append(row)
    rng = random.Random(args.seed)
    picked: list[dict] = []
    for leaning in ("left", "center", "right"):
        taken: list[dict] = []
        for opinion in (True, False):
            pool = sorted(pools.get((leaning, opinion), []), key=lambda r: r["id"])
            rng.shuffle(pool)
            # Sanders and the DNC are rarer than Trump and Clinton: their articles go first, half the quota
            rare = [r for r in pool if {"Bernie Sanders", "Democratic National Committee"} & set(r["actors"])]
            pool = rare[: args.per_leaning // 4] + [r for r in pool if r not in rare[: args.per_leaning // 4]]
            seen: Counter[str] = Counter()
            want = args.per_leaning - len(taken) if not opinion else args.per_leaning // 2
            for r in pool:
                if want <= 0:
                    break
                if seen[r["source"]] >= 4:  # spread over outlets
                    continue
                seen[r["source"]] += 1
                taken.append(r)
                want -= 1
        picked += taken
    rng.shuffle(picked)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "articles.jsonl", "w") as f:
        for r in picked:
            f.write(json.dumps(r) + "\n")
    for half in (0, 1):
        with open(out / f"packet_{half + 1}.md", "w") as f:
            for r in picked[half::2]:
                f.write(f"\n\n===== ARTICLE {r['id']} =====\nTitle: {r['title']}\n")
                f.write(f"Actors to label: {'; '.join(r['actors'])}\n\n{r['text']}\n")
    pairs = sum(len(r["actors"]) for r in picked)
    print(f"{len(picked)} articles, {pairs} (article, actor) pairs -> {out}")
    print(Counter(r["leaning"] for r in picked), Counter(a for r in picked for a in r["actors"]))


if __name__ == "__main__":
    main()
