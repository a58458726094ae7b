"""Article labels through their windows (training/mil.py): a sided article trains on its top windows."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from model.labels import STANCE_LABELS
from training.config import TrainConfig
from training.mil import BAG, model_scorer, select_windows
from training.retrain import label_copies
from training.train import fine_tune


def _scorer(favour: dict[str, float]):
    """A scorer that gives each window text its P(favor) from ``favour`` (the rest neutral)."""
    calls: list[int] = []

    def score(targets, texts):
        calls.append(len(texts))
        out = np.zeros((len(texts), len(STANCE_LABELS)))
        for n, t in enumerate(texts):
            out[n, STANCE_LABELS.index("favor")] = favour[t]
            out[n, STANCE_LABELS.index("neutral")] = 1 - favour[t]
        return out

    return score, calls


def _windows(bag, label, texts, target="Bernie Sanders"):
    return [{"target": target, "text": t, "label": label, BAG: bag} for t in texts]


def test_a_sided_article_keeps_its_most_label_like_windows_a_neutral_one_all():
    favour = {"w1": 0.1, "w2": 0.9, "w3": 0.5, "w4": 0.7, "n1": 0.8, "n2": 0.2, "n3": 0.3, "tweet": 0.4}
    windows = (
        _windows(0, "favor", ["w1", "w2", "w3", "w4"])
        + _windows(1, "neutral", ["n1", "n2", "n3"])
        + [{"target": "Bernie Sanders", "text": "tweet", "label": "against"}]  # not a bag: kept
    )
    score, calls = _scorer(favour)
    kept = select_windows(windows, score, top_k=2)
    assert [w["text"] for w in kept] == ["w2", "w4", "n1", "n2", "n3", "tweet"]  # input order kept
    assert all(BAG not in w for w in kept)
    assert calls == [4]  # only the sided bag is scored


def test_copies_of_one_label_are_bags_of_their_own_and_each_window_is_scored_once():
    labels = [{"target": "Bernie Sanders", "text": "article", "label": "favor"}]
    copies = label_copies(labels, 3, "top")
    assert [c[BAG] for c in copies] == [0, 1, 2]
    assert label_copies(labels, 3, "all") == labels * 3
    windows = [w for c in copies for w in _windows(c[BAG], "favor", ["a", "b", "c"])]
    score, calls = _scorer({"a": 0.2, "b": 0.6, "c": 0.9})
    kept = select_windows(windows, score, top_k=1)
    assert [w["text"] for w in kept] == ["c", "c", "c"]
    assert calls == [3]


def test_top_k_must_be_positive():
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        select_windows([], lambda t, x: np.zeros((0, 3)), top_k=0)


ARTICLE = " ".join(
    [
        "Bernie Sanders spoke in Iowa on Monday about the farm bill.",
        "Sanders has been a champion of working families for decades.",
        "The weather in Des Moines was cold and grey.",
        "Sanders met local officials at the county fairground.",
        "Traffic on the interstate was slow all afternoon.",
        "Sanders will travel to Nevada next week.",
    ]
    * 3
)


def test_fine_tune_trains_a_bagged_article_on_its_top_windows(tiny_model_dir: Path, tmp_path: Path, caplog):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"target": "Bernie Sanders", "text": "Sanders won.", "label": "favor"}) + "\n")
    config = TrainConfig.model_validate(
        {
            "name": "mil",
            "base_model": str(tiny_model_dir),
            "max_length": 48,
            "data_root": str(tmp_path),
            "train": [{"name": "rows", "path": "rows.jsonl"}],
            "window_format": 1,
            "training": {"epochs": 1, "batch_size": 4, "learning_rate": 1e-4, "warmup_ratio": 0.0},
            "fp16_weights": False,
        }
    )
    rows = [
        {"target": "Bernie Sanders", "text": "Sanders won.", "label": "favor", "dataset": "rows"},
        {"target": "Bernie Sanders", "text": ARTICLE, "label": "favor", "dataset": "labels", BAG: 0},
    ]
    with caplog.at_level(logging.INFO, logger="training.train"):
        out = fine_tune(config, output_dir=tmp_path / "model", rows=rows, data_hashes={}, bag_top_k=2)
    train = json.loads((out / "slant.json").read_text())["metrics"]["train"]
    assert train["windows"] == 3  # the short row and the article's two top windows
    assert any(
        "article labels:" in r.getMessage() and "-> 3 windows" in r.getMessage() for r in caplog.records
    )


def test_the_model_scorer_gives_probabilities(tiny_model_dir: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    probs = model_scorer(model, tokenizer, max_length=32, batch_size=2)(
        ["A", "B", "C"], ["x y", "z", "w v u"]
    )
    assert probs.shape == (3, len(STANCE_LABELS)) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
