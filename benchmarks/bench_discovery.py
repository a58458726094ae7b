"""Discovery and mention finding against the discovery dev set; not-mentioned items of contrast-dev.

Reports, on ``training/labelled/discovery_dev/discovery_dev.jsonl`` (50 articles, gold actors
agreed by two annotators):

- precision and recall at 5 of discovered actors (recall against at most 5 gold actors);
- how many discovered actors are furniture, adjectives or groups ("Browse", "Democratic" beside
  "Democratic Party", "Bernie Supporters", "LGBT", a cited outlet);
- the share of gold mentions found, with the gold actors requested by name: surface forms by name,
  descriptions by title, and pronoun references (found, capped at the gold count per actor);
- the title mentions attributed to gold actors, and how many of them lie on a title the gold lists
  (a precision proxy);

and, on ``training/labelled/contrast_dev/contrast_dev.jsonl``, how many (text, actor) items come
out ``not_mentioned`` (no window) with the items' ``target`` and ``aliases``. Only counted: that
file is a dev set, nothing is tuned on it.

Runs on whichever code is first on ``sys.path``, so the same script measures another checkout:

    python benchmarks/bench_discovery.py                          # this tree
    cd ../main-checkout && python /path/to/bench_discovery.py --dev /path/to/discovery_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd()))

from model import actors as A  # noqa: E402
from model.errors import InvalidInputError  # noqa: E402
from model.text import analyse_many, clean  # noqa: E402
from model.windows import MARKED, WindowBuilder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "training" / "labelled" / "discovery_dev" / "discovery_dev.jsonl"
CONTRAST = REPO / "training" / "labelled" / "contrast_dev" / "contrast_dev.jsonl"
JUNK = {"browse", "hill", "democratic", "republican", "bernie supporters", "lgbt", "channel", "now reading"}
#: Outlets and platforms: cited, not what an article is about (none of them is a gold actor here).
OUTLETS = {
    "politico",
    "cnn",
    "fox news",
    "nbc",
    "abc",
    "cbs",
    "npr",
    "ap",
    "associated press",
    "reuters",
    "twitter",
    "facebook",
    "youtube",
    "new york times",
    "washington post",
    "wall street journal",
    "usa today",
    "bloomberg",
    "buzzfeed",
    "breitbart",
    "vox",
    "slate",
    "daily beast",
    "newsweek",
    "msnbc",
    "getty images",
    "afp",
}

try:
    from model import linking as L  # the new code
except ImportError:  # the code before linking existed
    L = None  # type: ignore[assignment]


def norm(name: str) -> str:
    s = name.lower().replace("’", "'")
    s = re.sub(r"'s$", "", s)
    s = re.sub(r"\b(?:the|u\.s\.|us|united states|state of)\b", " ", s)
    return " ".join(re.sub(r"[^\w&]+", " ", s).split())


def discovered(doc: Any, cleaned: str, row: dict[str, Any], limit: int = 5) -> list[Any]:
    if L is not None:
        year = int(row["date"][:4]) if row.get("date") else None
        return [d.actor for d in L.rank(doc, cleaned, limit=limit, year=year)]
    # What StancePredictor._plan did before: NER counts, re-ranked by alias matches.
    found = A.discover(doc, limit=2 * limit)
    counted = [(a, n, len(A.find_mentions(cleaned, a))) for a, n in found]
    counted.sort(key=lambda t: (-max(t[1], t[2]), -t[1]))
    return [a for a, _, _ in counted[:limit]]


def mentions(cleaned: str, actors: list[Any], row: dict[str, Any]) -> list[list[Any]]:
    if L is not None:
        year = int(row["date"][:4]) if row.get("date") else None
        return L.link(cleaned, actors, year=year)
    return [A.find_mentions(cleaned, a) for a in actors]


def matches(actor: Any, gold: dict[str, Any]) -> bool:
    forms = {norm(gold["name"]), *(norm(n) for n in gold.get("also", [])), *(norm(n) for n in gold["names"])}
    return norm(actor.name) in forms or norm(gold["name"]) in {norm(a) for a in actor.aliases}


def as_actor(name: str) -> Any:
    try:
        return A.parse_actor(name)
    except InvalidInputError:
        return A.Actor(name, (name,))


def discovery(dev: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in dev.open(encoding="utf-8")]
    cleaned = [clean(r["text"]) for r in rows]
    docs = analyse_many(cleaned, entities=True)
    tp = n_pred = hits = n_gold = junk = 0
    found = {"name": [0, 0], "title": [0, 0], "pronoun": [0, 0]}
    pron_found_total = 0
    titles_attributed = [0, 0]  # title mentions slant attributed to a gold actor; of them, on a gold title
    per_doc = []
    for row, text, doc in zip(rows, cleaned, docs, strict=True):
        gold = row["actors"]
        top = discovered(doc, text, row)
        ok = [any(matches(a, g) for g in gold) for a in top]
        tp += sum(ok)
        n_pred += len(top)
        hits += sum(any(matches(a, g) for a in top) for g in gold[:5]) if gold else 0
        n_gold += min(5, len(gold))
        gold_names = {norm(g["name"]) for g in gold}
        junk += sum((norm(a.name) in JUNK | OUTLETS) and norm(a.name) not in gold_names for a in top)
        per_doc.append({"doc": row["doc"], "top5": [a.name for a in top], "gold": [g["name"] for g in gold]})
        requested = [as_actor(g["name"]) for g in gold]
        ms = mentions(text, requested, row)
        for g, m in zip(gold, ms, strict=True):
            # A gold mention is an occurrence of a gold surface form (longest first, not overlapping);
            # it is found when a mention of that kind of the actor overlaps it.
            gold_spans: dict[str, list[tuple[int, int]]] = {}
            for kind, forms in (("name", g["names"]), ("title", g["titles"])):
                spans = [(x.start, x.end) for x in m if getattr(x, "via", "name") == kind]
                taken = gold_spans[kind] = []
                for form in sorted(set(forms), key=len, reverse=True):
                    flags = 0 if kind == "name" else re.I
                    for o in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text, flags):
                        s, e = o.span()
                        if any(s < te and ts < e for ts, te in taken):
                            continue
                        taken.append((s, e))
                        found[kind][1] += 1
                        found[kind][0] += any(s < te and ts < e for ts, te in spans)
            for x in m:
                if getattr(x, "via", "name") == "title":
                    titles_attributed[0] += 1
                    titles_attributed[1] += any(s < x.end and x.start < e for s, e in gold_spans["title"])
            n_pron = sum(getattr(x, "via", "name") == "pronoun" for x in m)
            pron_found_total += n_pron
            found["pronoun"][1] += int(g["pronouns"])
            found["pronoun"][0] += min(n_pron, int(g["pronouns"]))
    return {
        "articles": len(rows),
        "precision_at_5": round(tp / max(n_pred, 1), 3),
        "recall_at_5": round(hits / max(n_gold, 1), 3),
        "junk_actors_in_top5": junk,
        "mentions_found": {
            k: {"found": v[0], "gold": v[1], "share": round(v[0] / max(v[1], 1), 3)} for k, v in found.items()
        },
        "pronouns_attributed_per_gold_pronoun": round(pron_found_total / max(found["pronoun"][1], 1), 3),
        # A precision proxy: the rest may be right (titles agree least between the annotators).
        "titles_attributed": {"all": titles_attributed[0], "on_a_gold_title": titles_attributed[1]},
        "per_doc": per_doc,
    }


def contrast(path: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    builder = WindowBuilder(lambda t: len(t.split()) <= 300, fmt=MARKED)
    cleaned = [clean(r["text"]) for r in rows]
    docs = analyse_many(cleaned, entities=False)
    missed = []
    for r, c, d in zip(rows, cleaned, docs, strict=True):
        spec = {"name": r["target"], "aliases": r["aliases"]} if r.get("aliases") else r["target"]
        try:
            actor = A.parse_actors([spec])[0]
        except InvalidInputError:
            actor = A.Actor(r["target"], (r["target"], *(r.get("aliases") or ())))
        plan = builder.plan(r["text"], [actor], c, d)
        if not plan.windows:
            missed.append(r["id"])
    return {"items": len(rows), "not_mentioned": len(missed), "ids": missed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--contrast", type=Path, default=CONTRAST)
    ap.add_argument("--per-doc", action="store_true", help="also print each article's top 5 and gold list")
    args = ap.parse_args()
    out = {"code": "linking" if L is not None else "names only", "discovery": discovery(args.dev)}
    if not args.per_doc:
        out["discovery"].pop("per_doc")
    out["contrast_dev"] = contrast(args.contrast)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
