"""training/bias.py on the tiny model and a tiny data folder laid out like ../shared/data: the linear
fit, the features cache, the data readers, the reports, and fitting and writing a head."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _bias_fixtures import leaning_article, write_bias_data

from model import StancePredictor
from model.bias import load_head
from model.errors import ConfigError
from training import bias
from training.bias import (
    Example,
    babe_data,
    classification_report,
    dev_report,
    features,
    fit_bias,
    fit_head,
    fit_linear,
    head_probabilities,
    hyperpartisan_data,
    leaning_data,
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_bias_data(tmp_path / "data")


@pytest.mark.parametrize(
    "labels", [["not_hyperpartisan", "hyperpartisan"], ["hyperpartisan", "not_hyperpartisan"]]
)
def test_fit_linear_keeps_the_binary_label_order(labels):
    # sklearn sorts its classes ("hyperpartisan" < "not_hyperpartisan"); the head's columns must follow
    # ``labels`` whichever way round they are.
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(2, 0.3, (20, 4)), rng.normal(-2, 0.3, (20, 4))])
    y = ["hyperpartisan"] * 20 + ["not_hyperpartisan"] * 20
    w, b, m, s = fit_linear(x, y, labels, c=1.0, balanced=False)
    z = ((x - m) / s) @ w.T + b
    pred = [labels[i] for i in z.argmax(axis=1)]
    assert pred == y
    assert w.shape == (2, 4) and b.shape == (2,)


def test_fit_linear_needs_every_label():
    x = np.zeros((4, 2))
    with pytest.raises(ConfigError, match=r"do not cover \['left', 'center', 'right'\]"):
        fit_linear(
            x + np.arange(4)[:, None],
            ["left", "left", "right", "right"],
            ["left", "center", "right"],
            c=1,
            balanced=False,
        )


def test_a_features_cache_hit_gives_the_same_arrays(tiny_predictor, cache, monkeypatch):
    texts = [leaning_article("left", 1), "One sentence only.", "Advertisement"]
    first = features(tiny_predictor, texts, max_sentences=16)
    assert list(cache.glob("features/*.npz"))
    assert [len(f) for f in first][:2] == [4, 1]

    def no_encoding(*a, **k):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(tiny_predictor, "sentence_features", no_encoding)
    again = features(tiny_predictor, texts, max_sentences=16)
    assert len(again) == len(first)
    for a, b in zip(first, again, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    assert features(tiny_predictor, [], max_sentences=16) == []


def test_babe_dev_and_train_share_no_text(data):
    train, dev = babe_data(data)
    norm = lambda t: " ".join(t.split()).lower()  # noqa: E731
    assert dev and train
    assert not {norm(e.text) for e in dev} & {norm(e.text) for e in train}
    assert {e.label for e in train + dev} == {"biased", "non-biased"}  # no MBIC, no no_agreement
    assert "Crowd label." not in {e.text for e in train}


def test_the_readers_follow_the_splits(data):
    train, valid = leaning_data(data)
    assert (len(train), len(valid)) == (24, 12)
    assert {e.group for e in train} == {"Outlet A", "Outlet B"} and {e.group for e in valid} == {"Outlet C"}
    sample, _ = leaning_data(data, train_rows=5)
    assert len(sample) == 5 and sample == leaning_data(data, train_rows=5)[0]  # the same sample each time
    hyper = hyperpartisan_data(data)
    assert len(hyper) == 16 and hyper[0].text.startswith("Title 0\n\n")
    with pytest.raises(ConfigError, match="does not exist.*--data-root"):
        leaning_data(data / "nowhere")


def test_classification_report_binary_and_present_only():
    labels = ["not_hyperpartisan", "hyperpartisan"]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    gold = ["not_hyperpartisan", "hyperpartisan", "hyperpartisan", "hyperpartisan"]
    rep = classification_report(gold, probs, labels)
    assert rep["accuracy"] == 75.0 and rep["roc_auc"] == 100.0
    assert rep["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.36, 0.09]), abs=1e-4)
    assert rep["confusion"]["matrix"] == [[1, 0], [1, 2]]
    three = ["left", "center", "right"]
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    assert classification_report(["left", "right"], p, three)["macro_f1"] == pytest.approx(66.67)
    assert classification_report(["left", "right"], p, three, present_only=True)["macro_f1"] == 100.0


def test_fit_head_and_its_scores_match_analyze(tiny_model_dir, data, cache, tmp_path):
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    predictor = StancePredictor.load(model_dir, backend="torch", device="cpu", heads=[])
    extra = [Example(leaning_article("right", 99), "right", "labels")]
    fit = fit_head(predictor, "leaning", data_root=data, extra=extra, c_grid=(1.0,))
    head = fit.head
    assert (head.task, head.labels, head.encoder) == (
        "leaning",
        ["left", "center", "right"],
        predictor.encoder_hash,
    )
    assert head.info["train_examples"] == 25 and head.info["extra_examples"] == 1
    assert fit.report["n"] == 12 and head.info["dev"]["how"] == "held-out split"

    texts = [leaning_article("left", 50), leaning_article("center", 51)]
    mine = head_probabilities(predictor, head, texts)
    head.save(model_dir / "bias" / "leaning")
    served = StancePredictor.load(model_dir, backend="torch", device="cpu", heads=[])
    found = served.analyze(texts, ["Nobody Here"])
    for row, a in zip(mine, found, strict=True):
        assert a.bias is not None and a.bias.leaning is not None
        assert [a.bias.leaning.probabilities[lab] for lab in head.labels] == pytest.approx(row, abs=2e-3)

    dev = dev_report(predictor, head, data_root=data)
    assert dev["n"] == 12 and dev["how"] == "held-out split"


def test_hyperpartisan_dev_is_cross_validated_with_the_extra_labels_in_training(tiny_predictor, data, cache):
    fit = fit_head(tiny_predictor, "hyperpartisan", data_root=data, c_grid=(1.0,))
    assert fit.head.positive == "hyperpartisan" and fit.report["n"] == 16
    assert {"roc_auc", "brier"} <= set(fit.report)
    plain = dev_report(tiny_predictor, fit.head, data_root=data)
    extra = [Example("An outrageous disgrace! Traitors!", "hyperpartisan")] * 3
    more = dev_report(tiny_predictor, fit.head, data_root=data, extra=extra)
    assert plain["how"] == more["how"] == "cross-validation, 5 folds grouped by site"
    assert plain["n"] == more["n"] == 16  # only the articles are scored


def test_fit_bias_writes_the_head_whole_with_its_card(tiny_model_dir, data, cache, tmp_path):
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    path, fit = fit_bias(model=model_dir, task="hyperpartisan", data_root=data, command="slant fit-bias ...")
    assert path == model_dir / "bias" / "hyperpartisan"
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "head.json", "head.safetensors"]
    card = (path / "README.md").read_text()
    assert card.startswith("# Bias head: hyperpartisan") and "cross-validation" in card
    assert "no licence stated upstream" in card and "`slant fit-bias ...`" in card and "Brier" in card
    assert load_head(path).encoder == fit.head.encoder
    # Fitting again replaces the head in one step and leaves no temp directory behind.
    fit_bias(model=model_dir, task="hyperpartisan", data_root=data)
    assert sorted(p.name for p in (model_dir / "bias").iterdir()) == ["hyperpartisan"]
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".")]
    assert json.loads((path / "head.json").read_text())["task"] == "hyperpartisan"


def test_fit_bias_keeps_the_loaded_language_head_out_of_model_dirs(tiny_model_dir, data, cache, tmp_path):
    with pytest.raises(ConfigError, match="needs an explicit --out.*AGPL-3.0"):
        fit_bias(model=tiny_model_dir, task="loaded_language", data_root=data)
    with pytest.raises(ConfigError, match="is inside the model directory"):
        fit_bias(
            model=tiny_model_dir, task="loaded_language", data_root=data, out=tiny_model_dir / "bias" / "x"
        )
    with pytest.raises(ConfigError, match="unknown bias task 'tone'"):
        fit_bias(model=tiny_model_dir, task="tone", data_root=data)
    path, fit = fit_bias(model=tiny_model_dir, task="loaded_language", data_root=data, out=tmp_path / "babe")
    assert fit.head.level == "sentence" and "AGPL-3.0" in (path / "README.md").read_text()
    assert not (Path(tiny_model_dir) / "bias").exists()


def test_stored_labels_join_the_training_data(tiny_model_dir, data, cache, tmp_path):
    from training.store import LabelStore, new_label

    db = f"sqlite:///{tmp_path}/labels.db"
    with LabelStore.open(db) as store:
        store.add(
            [
                new_label(text=leaning_article("left", 70), task="leaning", label="left"),
                new_label(text=leaning_article("right", 71), task="leaning", label="right"),
                new_label(text="Go Bernie!", actor="Bernie", label="favor"),
            ]
        )
    assert [e.label for e in bias.stored_examples(db, "leaning")] == ["left", "right"]
    _, fit = fit_bias(model=tiny_model_dir, task="leaning", data_root=data, out=tmp_path / "h", labels_db=db)
    assert fit.head.info["extra_examples"] == 2 and fit.head.info["train_examples"] == 26


def test_fit_temperature_softens_an_overconfident_head_and_keeps_a_calibrated_one() -> None:
    from training.bias import fit_temperature

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, size=600)
    noise = rng.normal(size=(600, 3)) * 8.0  # confident and unrelated to the gold labels
    assert fit_temperature(noise, gold.tolist()) > 4.0
    # Logits drawn from a calibrated model: sample labels from softmax(z); T stays near 1.
    z = rng.normal(size=(4000, 3)) * 2.0
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    drawn = [int(rng.choice(3, p=row)) for row in p]
    assert 0.8 < fit_temperature(z, drawn) < 1.25


@pytest.mark.parametrize("task", ["leaning", "hyperpartisan"])
def test_dev_texts_a_retrain_fitted_on_are_not_scored(tiny_predictor, data, cache, task):
    fit = fit_head(tiny_predictor, task, data_root=data, c_grid=(1.0,))
    plain = dev_report(tiny_predictor, fit.head, data_root=data)
    split = None if task == "hyperpartisan" else 0  # hyperpartisan's dev is its training articles
    scored = bias.READERS[task].read(Path(data), split)[0 if split is None else 1]
    seen = [" " + scored[0].text + "  ", scored[1].text]  # compared after normalising whitespace
    less = dev_report(tiny_predictor, fit.head, data_root=data, leave_out=seen)
    assert (plain["left_out"], less["left_out"]) == (0, 2)
    assert less["n"] == plain["n"] - 2
