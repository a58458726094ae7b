"""Sample actor mention windows from Article-Bias-Prediction articles for stance annotation.

    .venv/bin/python training/labelled/news_windows/make_windows.py --out /tmp/windows.jsonl

Each window is built by slant's own window builder (``model.windows``, format 2: the sentence
before, the mention sentence, the sentence after), so a labelled window is exactly what the
model reads when it serves an article. Actors are the people, organisations and parties that
spaCy finds in the article (``model.actors.discover``), as the service discovers them.
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
from pathlib import Path

from model.actors import discover, find_mentions
from model.text import analyse_many, clean, sentences
from model.windows import MARKED, WindowBuilder

PRIMARIES = {"Bernie Sanders", "Hillary Clinton", "Democratic National Committee", "Donald Trump"}
FOCUS = ("Sanders", "Clinton", "DNC", "Democratic National Committee", "Trump")


OPINION = (
    "Townhall",
    "National Review",
    "Vox",
    "Salon",
    "Reason",
    "Guest Writer",
    "Breitbart",
    "American Spectator",
    "TheBlaze",
    "Daily Kos",
    "Daily Beast",
    "Slate",
    "Daily Wire",
    "Newsmax",
    "Opinion",
    "Editorial",
    "Mother Jones",
    "The Federalist",
    "The Nation",
    "HuffPost",
    "Huffington",
    "Washington Examiner",
    "Daily Caller",
    "New Republic",
    "Think Progress",
    "ThinkProgress",
    "Rolling Stone",
    "Jacobin",
)


def _opinion(source: str) -> bool:
    """Outlets and sections that argue (their windows take sides more often than wire news)."""
    return any(o in source for o in OPINION)


def _actor_like(name: str) -> bool:
    """Drop nationality and party adjectives ("American", "Republican") and non-actors."""
    if name in PRIMARIES or " " in name or name.isupper():
        return name not in {"COVID-19"}
    return not name.endswith(("an", "ans", "ese", "ic", "ish", "ch")) and not any(c.isdigit() for c in name)


def _capped(windows: list[dict], caps: dict[str, int]) -> list[dict]:
    """At most ``caps[actor]`` windows of a capped actor: its first ones, in id order."""
    counts: dict[str, int] = {}
    kept = []
    for row in windows:
        counts[row["actor"]] = counts.get(row["actor"], 0) + 1
        if counts[row["actor"]] <= caps.get(row["actor"], len(windows)):
            kept.append(row)
    return kept


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/article_bias_prediction/articles.jsonl.xz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--articles", type=int, default=800)
    ap.add_argument("--per-article", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2016)
    ap.add_argument("--opinion", action="store_true", help="only opinion outlets and opinion sections")
    ap.add_argument("--exclude", help="windows JSONL files (comma-separated) whose articles are left out")
    ap.add_argument("--prefix", default="nw")
    ap.add_argument(
        "--primaries-share", type=float, default=0.5, help="share of articles from 2015-16 primaries coverage"
    )
    ap.add_argument(
        "--cap", default="", help="at most N windows of an actor, e.g. 'Donald Trump=200,Hillary Clinton=160'"
    )
    args = ap.parse_args()
    caps = {k.strip(): int(v) for k, v in (c.rsplit("=", 1) for c in args.cap.split(",") if c.strip())}
    rng = random.Random(args.seed)
    used = set()
    if args.exclude:
        for path in args.exclude.split(","):
            used |= {json.loads(x)["article"] for x in Path(path).read_text(encoding="utf-8").splitlines()}
    primaries, other = [], []
    with lzma.open(args.data, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            text = d.get("content_original") or ""
            if not 1500 <= len(text) <= 12000 or d["ID"] in used:
                continue
            if args.opinion and not _opinion(d["source"]):
                continue
            row = {k: d[k] for k in ("ID", "source", "bias_text", "date", "topic")}
            row["text"] = text
            if d["date"][:4] in ("2015", "2016") and any(f in text for f in FOCUS):
                primaries.append(row)
            else:
                other.append(row)
    rng.shuffle(primaries)
    rng.shuffle(other)
    n_primaries = round(args.articles * args.primaries_share)
    picked = primaries[:n_primaries] + other[: args.articles - n_primaries]
    builder = WindowBuilder(lambda t: len(t.split()) <= 90, fmt=MARKED)
    out = []
    cleaned = [clean(r["text"]) for r in picked]
    docs = analyse_many(cleaned, entities=True)
    for r, c, doc in zip(picked, cleaned, docs, strict=True):
        sents = sentences(doc)
        found = [(a, n) for a, n in discover(doc, limit=5) if n >= 2 and _actor_like(a.name)]
        rng.shuffle(found)
        # Articles of the 2016 primaries: their main actors first (Sanders, Clinton, the DNC, Trump).
        found.sort(key=lambda an: an[0].name not in PRIMARIES)
        for actor, _ in found[: args.per_article]:
            ms = find_mentions(c, actor)
            focus = builder.focus_sentences(sents, ms)
            if not focus:
                continue
            si = rng.choice(focus)
            window = builder.sentence_window(c, sents, si, ms)
            shown = window.replace("[TGT] ", "[[").replace(" [/TGT]", "]]")
            out.append(
                {
                    "article": r["ID"],
                    "source": r["source"],
                    "leaning": r["bias_text"],
                    "date": r["date"],
                    "actor": actor.name,
                    "aliases": [a for a in actor.aliases if a != actor.name],
                    "text": window.replace("[TGT] ", "").replace(" [/TGT]", ""),
                    "shown": shown,
                }
            )
    rng.shuffle(out)
    for i, row in enumerate(out):
        row["id"] = f"{args.prefix}-{i + 1:04d}"
    out = _capped(out, caps)
    Path(args.out).write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8"
    )
    print(len(out), "windows from", len(picked), "articles", f"(capped: {caps})" if caps else "")


if __name__ == "__main__":
    main()
