"""A retrain that refits the article aggregator fits it on the config's articles and the trained-on
labels, and never on the text of a held-back label (the gate's new-labels score would be fitted on)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _retrain_fixtures import make_world

from model.loading import read_meta
from training.retrain import aggregator_rows, in_held_back_slice, retrain
from training.store import LabelStore, new_label


def article(i: int, label: str) -> str:
    tones = {"favor": "a fine and honest leader", "against": "a dishonest failure", "neutral": "in town"}
    tone = tones[label]
    return " ".join(
        f"Report {i}, part {k}: Bernie Sanders was {tone} on day {k} of the long campaign." for k in range(8)
    )


def test_aggregator_rows_leave_out_held_back_texts_and_add_the_trained_on_labels():
    a = {"text": article(1, "favor"), "target": "Bernie Sanders", "label": "favor"}
    b = {"text": article(2, "against"), "target": "Bernie Sanders", "label": "against"}
    mine = {"text": article(3, "neutral"), "target": "Bernie Sanders", "label": "neutral"}
    relabelled = {**a, "label": "neutral"}
    rows, dropped = aggregator_rows([a, b], [mine, relabelled], [{**b, "text": b["text"] + "  "}])
    assert dropped == 1  # b's text is held back (compared after normalising whitespace)
    assert rows == [mine, relabelled]  # a user's label replaces the config's row for the same pair
    assert aggregator_rows([a, b], [], []) == ([a, b], 0)


@pytest.fixture
def current_model(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny model, the current model while nothing is promoted."""
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    monkeypatch.setenv("SLANT_MODEL", str(model))
    return model


def refit_on_articles(
    root: Path,
    model: Path,
    articles: list[tuple[str, str]],
    labelled: list[tuple[str, str]],
    **settings: Any,
) -> tuple[Any, list[str]]:
    """Retrain ``model`` (one epoch) with ``--refit-aggregator``: the config's aggregator data are
    ``articles`` and the label store holds ``labelled``, both (text, label) toward Bernie Sanders;
    the retrain's result and its progress lines."""
    w = make_world(root, model, labels=0)
    (w.root / "articles.jsonl").write_text(
        "".join(json.dumps({"text": t, "target": "Bernie Sanders", "label": y}) + "\n" for t, y in articles),
        encoding="utf-8",
    )
    aggregator = "aggregator: {data: [{name: articles, path: articles.jsonl}]}\n"
    labels = [(t, "Bernie Sanders", y) for t, y in labelled]
    return one_epoch_retrain(w, labels, aggregator, **({"refit_aggregator": True} | settings))


def one_epoch_retrain(
    w: Any, labelled: list[tuple[str, str, str]], extra_config: str = "", **settings: Any
) -> tuple[Any, list[str]]:
    """Store ``labelled`` (text, actor, label), then retrain the world's model for one epoch (no
    promotion, any loss tolerated); its result and progress lines."""
    config = w.config.read_text(encoding="utf-8").replace("training: {epochs: 20", "training: {epochs: 1")
    w.config.write_text(config + extra_config, encoding="utf-8")
    with LabelStore.open(w.database) as store:
        store.add([new_label(text=t, actor=a, label=y, annotator="test") for t, a, y in labelled])
    progress: list[str] = []
    result = retrain(
        config=str(w.config),
        database=w.database,
        registry=str(w.registry),
        tolerance=100,
        promote=False,
        progress=progress.append,
        **settings,
    )
    return result, progress


def test_refit_aggregator_never_fits_on_a_held_back_article(tmp_path, current_model):
    model = current_model
    labels = ["favor", "against", "neutral"] * 8
    texts = [(article(i, y), y) for i, y in enumerate(labels)]
    labelled = texts[:12]  # the first 12 articles are also labelled by a user
    held = [t for t, _ in labelled if in_held_back_slice(t, 0.2)]
    assert 0 < len(held) < len(labelled)
    result, progress = refit_on_articles(tmp_path / "world", model, texts, labelled)
    info = read_meta(result.path).aggregator["info"]
    assert info["held_back_left_out"] == len(held)
    assert info["sources"] == ["articles", "labels"]
    # 12 - len(held) user labels replace the config's rows of the same articles; every article is
    # long enough to be scored as one
    assert info["articles"] == len(texts) - len(held)
    left_out = [y for t, y in labelled if t in held]
    assert info["label_counts"] == {y: labels.count(y) - left_out.count(y) for y in sorted(set(labels))}
    assert any("left out because their text is held back" in m for m in progress)


def test_an_impossible_refit_keeps_the_parents_aggregator_and_says_why(tmp_path, current_model):
    import numpy as np

    from model.aggregate import FEATURES, LogisticAggregator
    from model.loading import write_meta

    model = current_model
    meta = read_meta(model)
    k = len(FEATURES)
    parent = LogisticAggregator(
        np.zeros((3, k)), np.zeros(3), np.zeros(k), np.ones(k), list(meta.labels), {"articles": 7}
    )
    meta.aggregator = parent.to_json()
    write_meta(model, meta)
    texts = [(article(i, "favor"), "favor") for i in range(6)]  # one label only: no aggregator fits
    result, progress = refit_on_articles(tmp_path / "world", model, texts, texts)
    kept = read_meta(result.path).aggregator
    assert kept["coef"] == parent.to_json()["coef"] and kept["info"]["articles"] == 7
    assert "at least two labels" in kept["info"]["refit_failed"]
    assert any(m.startswith("warning: aggregator not refitted") for m in progress)


def test_the_gate_never_scores_a_fixed_set_on_texts_the_new_model_was_trained_on(tmp_path, current_model):
    from _retrain_fixtures import BASE

    w = make_world(tmp_path / "world", current_model, labels=0)
    # The user labels two of the dev set's texts (the fixture's dev set is its base mix) and two new ones.
    labelled = [(x, t, y) for t, x, y in BASE[:2]] + [
        (
            f"Sanders rally number {i} was {'great' if i else 'awful'}",
            "Bernie Sanders",
            "favor" if i else "against",
        )
        for i in range(2)
    ]
    trained = [x for x, _, _ in labelled if not in_held_back_slice(x, 0.2)]
    seen_dev = [x for _, x, _ in BASE if x in trained]
    assert seen_dev, "at least one labelled dev text must fall on the trained-on side"
    result, progress = one_epoch_retrain(w, labelled)
    assert result.labels["eval_rows_left_out"] == {"dev": len(seen_dev)}
    assert result.gate.sets["dev"].rows == len(BASE) - len(seen_dev)
    assert any(
        m.startswith(f"dev: {len(seen_dev)} of {len(BASE)} rows left out of both models") for m in progress
    )


def test_aggregator_only_refits_the_aggregator_on_the_same_windows_and_keeps_the_encoder(
    tmp_path, current_model
):
    from model.backends import weights_hash
    from model.loading import load_classifier

    labels = ["favor", "against", "neutral"] * 8
    texts = [(article(i, y), y) for i, y in enumerate(labels)]
    labelled = texts[12:]  # the user labels articles the config's aggregator data do not have
    held = [t for t, _ in labelled if in_held_back_slice(t, 0.2)]
    assert 0 < len(held) < len(labelled)
    result, progress = refit_on_articles(
        tmp_path / "world", current_model, texts[:12], labelled, refit_aggregator=False, aggregator_only=True
    )
    assert result.kind == "aggregator" and result.train_rows == 0
    assert result.labels["train"] == len(labelled) - len(held) and result.labels["aggregator_only"]
    assert weights_hash(load_classifier(result.path)[0]) == weights_hash(load_classifier(current_model)[0])
    info = read_meta(result.path).aggregator["info"]
    assert info["sources"] == ["articles", "labels"] and info["articles"] == 12 + len(labelled) - len(held)
    assert result.gate.sets["new-labels"].rows == len(held)
    assert {"dev", "new-labels"} <= set(result.gate.sets)
    assert any("--aggregator-only: the encoder of" in m for m in progress)
    assert "article aggregator refitted" in result.summary()
    card = (Path(result.path) / "README.md").read_text(encoding="utf-8")
    assert "slant retrain --aggregator-only" in card


def test_aggregator_only_and_from_base_cannot_go_together(tmp_path, current_model):
    from model.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="give one of --aggregator-only and --from-base"):
        refit_on_articles(
            tmp_path / "world",
            current_model,
            [(article(0, "favor"), "favor")],
            [(article(1, "against"), "against")],
            aggregator_only=True,
            from_base=True,
        )
