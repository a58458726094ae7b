"""Retraining on bias labels: leaning labels alone refit the leaning head on the same encoder (a
copied model, no fine-tuning); stance labels fine-tune the encoder and every head is refitted on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _bias_fixtures import leaning_article, write_bias_data
from _retrain_fixtures import make_world
from typer.testing import CliRunner

from model import StancePredictor
from model.bias import load_head
from model.errors import InvalidInputError
from model.loading import read_meta
from service.cli import app
from training.bias import fit_bias
from training.registry import ModelRegistry
from training.retrain import carried_heads, in_held_back_slice, retrain
from training.store import LabelStore, new_label


@pytest.fixture
def world(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A copy of the tiny model carrying fitted leaning (12 sampled articles) and hyperpartisan heads."""
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    data = write_bias_data(tmp_path / "data")
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    fit_bias(model=model, task="leaning", data_root=data, train_rows=12)
    fit_bias(model=model, task="hyperpartisan", data_root=data)
    monkeypatch.setenv("SLANT_MODEL", str(model))
    return {"root": tmp_path, "data": data, "model": model}


def leaning_labels(n: int = 15) -> list[tuple[str, str]]:
    """(text, label) pairs, at least two of them in the held-back slice."""
    out = [
        (leaning_article(label, 230 + i), label)
        for i, label in enumerate(["left", "center", "right"] * (n // 3))
    ]
    assert 2 <= sum(in_held_back_slice(t, 0.2) for t, _ in out) < len(out)
    return out


def encoder_hash(model_dir: Path) -> str:
    return StancePredictor.load(model_dir, backend="torch", device="cpu", heads=[]).encoder_hash


def test_leaning_labels_alone_refit_only_the_leaning_head(world):
    db = f"sqlite:///{world['root']}/labels.db"
    registry = world["root"] / "registry"
    with LabelStore.open(db) as store:
        store.add([new_label(text=t, task="leaning", label=y) for t, y in leaning_labels()])
    where = ["--database", db, "--registry", str(registry)]
    result = CliRunner().invoke(
        app,
        [
            "retrain",
            "--bias-data-root",
            str(world["data"]),
            "--tolerance",
            "100",
            "--no-promote",
            "--json",
            *where,
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["version"], out["kind"], out["parent"]) == ("r1", "heads", "default")

    new = registry / "r1"
    # The encoder is untouched: same weights, and the heads that had no labels are the parent's.
    assert encoder_hash(new) == encoder_hash(world["model"])
    assert (new / "bias" / "hyperpartisan" / "head.json").read_bytes() == (
        world["model"] / "bias" / "hyperpartisan" / "head.json"
    ).read_bytes()
    head = load_head(new / "bias" / "leaning")
    assert head.info["extra_examples"] == out["heads"]["leaning"]["train_labels"] > 0
    assert head.info["train_examples"] == 12 + head.info["extra_examples"]  # the parent head's 12 articles
    assert head.info["retrain"] == {"parent": "default", "why": "new labels", "labels": 15}
    assert (
        "slant retrain (registry version r1, new labels)"
        in (new / "bias" / "leaning" / "README.md").read_text()
    )

    # The gate judges the leaning head only, on its dev data and on the held-back leaning labels.
    sets = out["gate"]["sets"]
    assert set(sets) == {"leaning:dev", "leaning:new-labels"}
    assert sets["leaning:dev"]["kind"] == "fixed" and sets["leaning:dev"]["rows"] == 12
    assert sets["leaning:new-labels"]["kind"] == "new_labels"
    assert sets["leaning:new-labels"]["rows"] == out["heads"]["leaning"]["held_back"] >= 2
    assert set(out["new"]) == set(out["old"]) == set(sets)

    meta = read_meta(new)
    assert meta.version == "r1" and meta.metrics["retrain"]["kind"] == "heads"
    assert set(meta.metrics["bias"]) == {"leaning:dev", "leaning:new-labels"}
    assert {"labels:leaning", "labels:leaning:held-back"} <= set(meta.data_hashes)
    held = [json.loads(line) for line in (new / "heldout_labels.jsonl").read_text().splitlines()]
    assert {(r["task"], r["target"]) for r in held} == {("leaning", None)}
    card = (new / "README.md").read_text()
    assert "with bias labels only" in card and "leaning:new-labels" in card
    loaded = StancePredictor.load(new, backend="torch", device="cpu", heads=[])
    assert set(loaded.heads) == {"leaning", "hyperpartisan"}
    with ModelRegistry.open(db, registry) as reg:
        stored = reg.get("r1")
    assert stored.metrics is not None and stored.metrics["kind"] == "heads"
    assert stored.metrics["heads"]["leaning"]["held_back"] == sets["leaning:new-labels"]["rows"]

    listed = CliRunner().invoke(app, ["models", "list", *where])
    r1 = [line.split() for line in listed.stdout.splitlines() if line.startswith("r1")][0]
    assert r1[1] == "candidate" if out["gate"]["passed"] else "rejected"
    assert r1[5] == ("pass" if out["gate"]["passed"] else "fail")
    assert r1[6] == f"{sets['leaning:new-labels']['delta']:+.2f}"


def test_stance_labels_fine_tune_the_encoder_and_every_head_is_refitted(
    world, tiny_bias_model_dir, monkeypatch
):
    # An extra head from $SLANT_HEADS fits the old encoder only; it must not stop the retrain.
    monkeypatch.setenv("SLANT_HEADS", str(tiny_bias_model_dir[1]))
    w = make_world(world["root"] / "world", world["model"])
    with LabelStore.open(w.database) as store:
        store.add([new_label(text=t, task="leaning", label=y) for t, y in leaning_labels()])
    progress: list[str] = []
    result = retrain(
        config=str(w.config),
        database=w.database,
        registry=str(w.registry),
        tolerance=100,
        bias_train_rows=6,
        bias_data_root=str(world["data"]),
        promote=False,
        progress=progress.append,
    )
    assert result.kind == "fine-tune" and result.labels["total"] == 20
    new = Path(result.path)
    new_hash, old_hash = encoder_hash(new), encoder_hash(world["model"])
    assert new_hash != old_hash
    assert sorted(carried_heads(new)) == ["hyperpartisan", "leaning"]
    for task in ("leaning", "hyperpartisan"):
        head = load_head(new / "bias" / task)
        assert head.encoder == new_hash and head.info["retrain"]["why"] == "new encoder"
    assert (
        load_head(new / "bias" / "leaning").info["train_examples"]
        == 6 + result.heads["leaning"]["train_labels"]
    )
    loaded = StancePredictor.load(new, backend="torch", device="cpu", heads=[])  # the heads load
    assert set(loaded.heads) == {"leaning", "hyperpartisan"}
    assert set(result.gate.sets) == {
        "dev",
        "new-labels",
        "leaning:dev",
        "hyperpartisan:dev",
        "leaning:new-labels",
    }
    assert result.gate.sets["hyperpartisan:dev"].rows == 16
    summary = result.summary()
    assert "leaning head: refitted (new encoder); 15 labels" in summary
    assert "hyperpartisan head: refitted (new encoder); 0 labels" in summary
    assert "hyperpartisan:dev" in summary and "leaning:new-labels" in summary
    assert any(m.startswith("refitting the hyperpartisan head (new encoder)") for m in progress)
    meta = read_meta(new)
    assert set(meta.metrics["retrain"]["heads"]) == {"leaning", "hyperpartisan"}
    assert set(meta.metrics["dev"]) == {"dev", "new-labels"}


def test_loaded_language_labels_alone_are_not_used(world):
    db = f"sqlite:///{world['root']}/ll.db"
    with LabelStore.open(db) as store:
        store.add([new_label(text="A loaded sentence.", task="loaded_language", label="biased")])
    result = CliRunner().invoke(app, ["retrain", "--database", db, "--registry", str(world["root"] / "reg")])
    assert result.exit_code == 2
    assert "has no labels, so retraining has nothing new to learn" in result.output
    assert "loaded-language labels are not used by retrain" in result.output
    assert "slant fit-bias --task loaded_language" in result.output
    bad = CliRunner().invoke(app, ["retrain", "--task", "tone", "--database", db])
    assert bad.exit_code == 2 and "invalid retrain options: tasks.0" in bad.output


def test_missing_bias_data_stops_the_retrain_before_any_training(world):
    w = make_world(world["root"] / "world", world["model"], labels=4)  # its data folder has no bias data
    started = []
    with pytest.raises(Exception, match="pass --bias-data-root") as info:
        retrain(config=str(w.config), database=w.database, registry=str(w.registry), progress=started.append)
    assert "the hyperpartisan head is fitted on hyperpartisan_semeval2019" in str(info.value)
    assert not any("training r1" in m for m in started)
    assert not list(w.registry.iterdir())  # the reserved version directory was removed


def test_labels_a_head_was_already_fitted_on_are_not_refitted_or_asked_to_gain(world):
    db = f"sqlite:///{world['root']}/labels.db"
    registry = world["root"] / "registry"
    common = {
        "database": db,
        "registry": str(registry),
        "bias_data_root": str(world["data"]),
        "tolerance": 100.0,
    }
    with LabelStore.open(db) as store:
        store.add([new_label(text=t, task="leaning", label=y) for t, y in leaning_labels()])
    first = retrain(**common, promote=False)
    with ModelRegistry.open(db, registry) as reg:
        reg.promote(first.version, reason="test", force=True)
    # Only hyperpartisan labels are new: the leaning head (fitted on the stored leaning labels) is kept.
    with LabelStore.open(db) as store:
        store.add(
            [
                new_label(text=leaning_article("left", 400 + i), task="hyperpartisan", label=y)
                for i, y in enumerate(["hyperpartisan", "not_hyperpartisan"] * 6)
            ]
        )
    second = retrain(**common, promote=False)
    assert set(second.heads) == {"hyperpartisan"}
    assert not any(k.startswith("leaning") for k in second.gate.to_json()["sets"])
    new = registry / second.version
    assert (new / "bias" / "leaning" / "head.safetensors").read_bytes() == (
        registry / first.version / "bias" / "leaning" / "head.safetensors"
    ).read_bytes()
    with ModelRegistry.open(db, registry) as reg:
        reg.promote(second.version, reason="test", force=True)
    # Nothing new at all: a clear error instead of an identical model that can never pass the gate.
    with pytest.raises(InvalidInputError, match="no new labels since version"):
        retrain(**common, promote=False)
