"""Reported-speech training texts composed from items whose labels both annotators agreed on.

An author's own opinion of an actor, put in someone else's mouth and reported without endorsement,
is no longer the author's stance: ``"Warren is the only adult on that stage," one voter said.`` is
neutral toward Warren, whatever the quote says. The same quote followed by the author's agreement
(``... and she is right.``) keeps the quote's label. The contrast dev set's neutral reports (v5: 47%
right) show the model reading quoted praise or anger as the author's.

Quotes come from the training side only: the hand-written contrast items (``contrast_train/``) whose
author takes a side (kinds ``control``, ``angry_defence`` and ``upbeat_opposition``, label favor or
against, at most 400 characters). Each gives one reported row (label neutral) and, for one item in
three, one adopted row (the item's label), so that "a quote" never means "neutral" by itself.

    python training/labelled/reported/make_reported.py            # writes reported.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELLED = HERE.parent
SOURCES = (
    LABELLED / "contrast_train" / "contrast_train.jsonl",
    LABELLED / "contrast_train" / "contrast_train_2.jsonl",
    LABELLED / "contrast_train" / "contrast_train_3.jsonl",
)
KINDS = ("control", "angry_defence", "upbeat_opposition")

#: Who said it: people the author reports on, none of them the author.
SPEAKERS = (
    "one supporter",
    "a protester outside the venue",
    "a retired teacher in the audience",
    "a caller to a local radio show",
    "a union organiser",
    "a small-business owner",
    "one delegate",
    "a voter outside the polling station",
    "a commentator on cable television",
    "a spokesperson for a rival campaign",
    "an aide who asked not to be named",
    "a student at the rally",
    "a columnist for a regional paper",
    "one donor",
    "a local party official",
    "a longtime activist",
    "one of the organisers",
    "a user on social media",
)
#: The reporting frames: {q} is the quote, {s} the speaker. None of them endorses the quote.
REPORTED = (
    '"{q}" {s} said.',
    '"{q}" {s} told reporters on Tuesday.',
    '{S} told reporters: "{q}"',
    'In a post on social media, {s} wrote: "{q}"',
    '"{q}" That was how {s} put it at a town hall on Thursday night.',
    'Asked about the race, {s} said: "{q}" Others at the event disagreed.',
    '{S} was quoted in the local paper as saying: "{q}"',
    '"{q}" {s} said in an interview, one of dozens conducted for this report.',
    'Reactions were mixed. "{q}" {s} said.',
    '{S} had a different view: "{q}" The claim could not be independently verified.',
)
#: Frames in which the author adopts the quote: the quote's stance is the author's.
ADOPTED = (
    '"{q}" {s} said, and {p} is right.',
    '{S} put it better than I could: "{q}"',
    '"{q}" I agree with every word {s} said.',
    'As {s} told reporters, "{q}" Exactly so.',
)


def sources() -> list[dict]:
    out = []
    for path in SOURCES:
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            if row["kind"] in KINDS and row["label"] in ("favor", "against") and len(row["text"]) <= 400:
                out.append(row)
    return out


def quote(text: str) -> str:
    """The item as a quotation: inner double quotes become single ones."""
    return " ".join(text.replace('"', "'").replace("\u201c", "'").replace("\u201d", "'").split())


def fill(frame: str, q: str, speaker: str, rng: random.Random) -> str:
    text = frame.format(q=q, s=speaker, S=speaker[0].upper() + speaker[1:], p=rng.choice(("she", "he")))
    return text[0].upper() + text[1:]


def compose(rows: list[dict], seed: int, adopted_share: float) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for row in rows:
        q = quote(row["text"])
        base = {"target": row["target"], "aliases": row.get("aliases") or [], "source": row["id"]}
        frame = rng.choice(REPORTED)
        text = fill(frame, q, rng.choice(SPEAKERS), rng)
        out.append(
            {**base, "id": f"rep-{len(out):05d}", "kind": "reported", "label": "neutral", "text": text}
        )
        if rng.random() < adopted_share:
            text = fill(rng.choice(ADOPTED), q, rng.choice(SPEAKERS), rng)
            out.append(
                {**base, "id": f"rep-{len(out):05d}", "kind": "adopted", "label": row["label"], "text": text}
            )
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--adopted-share", type=float, default=1 / 3)
    ap.add_argument("--out", type=Path, default=HERE / "reported.jsonl")
    args = ap.parse_args()
    rows = compose(sources(), args.seed, args.adopted_share)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(json.dumps({"rows": len(rows), **kinds, "out": str(args.out)}))


if __name__ == "__main__":
    main()
