"""A tiny data folder laid out like ../shared/data for the bias heads (Article-Bias-Prediction,
SemEval-2019 hyperpartisan, BABE), written under tmp_path, with words that tell the classes apart."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

WORDS = {
    "left": "Workers unions praised the climate plan and the public healthcare expansion.",
    "center": "The committee met on Tuesday and published the quarterly budget report.",
    "right": "Tax cuts and border security were the priorities of the conservative caucus.",
}
HYPER = {
    "hyperpartisan": "This is an outrageous disgrace! The corrupt traitors must be stopped now!",
    "not_hyperpartisan": "Officials said the meeting would continue next week as planned.",
}


def leaning_article(label: str, i: int) -> str:
    """A few sentences whose wording depends on the leaning label."""
    return f"{WORDS[label]} Story number {i} was filed today. {WORDS[label]} Readers wrote in."


def write_bias_data(root: Path, *, per_class: int = 8) -> Path:
    """``root`` laid out like the shared data folder; returns it.

    Leaning: ``per_class`` articles per class in the media split's train part (outlets A, B) and
    half as many in valid (outlet C). Hyperpartisan: ``per_class`` training articles per class.
    BABE: SG2 and SG1 sentences, one SG1 sentence repeating an SG2 one (it must not leak into train
    when its SG2 twin is in dev).
    """
    abp = root / "article_bias_prediction"
    abp.mkdir(parents=True, exist_ok=True)
    index, articles = [], []
    n = 0
    for label in WORDS:
        for part, count, outlets in (("train", per_class, "AB"), ("valid", max(2, per_class // 2), "C")):
            for i in range(count):
                aid = f"a{n:04d}"
                n += 1
                index.append({"id": aid, "split_media": part})
                articles.append(
                    {
                        "ID": aid,
                        "title": f"{label.title()} story {i}",
                        "content": leaning_article(label, i),
                        "bias_text": label,
                        "source": f"Outlet {outlets[i % len(outlets)]}",
                    }
                )
    index.append({"id": "unsplit", "split_media": None})
    (abp / "articles_index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in index), encoding="utf-8")
    with lzma.open(abp / "articles.jsonl.xz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in articles)

    hyper = root / "hyperpartisan_semeval2019"
    hyper.mkdir(exist_ok=True)
    rows = [
        {
            "id": f"h{label[:3]}{i}",
            "split": "train",
            "title": f"Title {i}",
            "text": f"{text} Item {i}.",
            "label": label,
        }
        for label, text in HYPER.items()
        for i in range(per_class)
    ]
    (hyper / "hyperpartisan_byarticle.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )

    babe = root / "babe"
    babe.mkdir(exist_ok=True)
    sentences = []
    for i in range(5 * per_class):
        biased = i % 2 == 0
        text = (
            f"The radical extremists destroyed everything again, number {i}."
            if biased
            else f"The council approved item {i} at its meeting."
        )
        sentences.append(
            {"id": f"SG2-{i}", "subset": "SG2", "text": text, "label": "biased" if biased else "non-biased"}
        )
    for i in range(2 * per_class):
        sentences.append(
            {"id": f"SG1-{i}", "subset": "SG1", "text": sentences[i]["text"], "label": sentences[i]["label"]}
        )
    sentences.append({"id": "MBIC-0", "subset": "MBIC", "text": "Crowd label.", "label": "biased"})
    sentences.append({"id": "SG2-x", "subset": "SG2", "text": "Unclear.", "label": "no_agreement"})
    (babe / "babe.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sentences), encoding="utf-8")
    return root
