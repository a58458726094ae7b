"""`slant retrain` end to end on the tiny model (labels in, a registered version out, the gate's
decision recorded), then `slant models list | show | promote | rollback`."""

from __future__ import annotations

import json
from pathlib import Path

from _retrain_fixtures import make_world
from typer.testing import CliRunner

from model.loading import read_meta
from service.cli import app
from training.registry import ModelRegistry


def test_retrain_registers_a_version_and_the_registry_commands_move_the_pointer(
    tmp_path, tiny_model_dir, monkeypatch
):
    world = make_world(tmp_path / "world", tiny_model_dir)
    monkeypatch.setenv("SLANT_MODEL", str(tiny_model_dir))  # the "default" version while nothing is promoted
    where = ["--database", world.database, "--registry", str(world.registry)]
    runner = CliRunner()

    # The fixed set may change freely here (tolerance 100): the tiny model learns the labels' pattern.
    result = runner.invoke(
        app, ["retrain", "--config", str(world.config), "--tolerance", "100", "--no-promote", *where]
    )
    assert result.exit_code == 0, result.output
    assert "current model: default" in result.output  # progress lines
    assert "version r1 (candidate) fine-tuned from default" in result.stdout
    assert "labels: 20 (17 trained on, repeated 1x = 81% of 21 rows per epoch; 3 held back)" in result.stdout
    assert "promotion gate PASSED against default" in result.stdout
    assert "r1 passed the gate and stays a candidate" in result.output

    version_dir = world.registry / "r1"
    meta = read_meta(version_dir)
    # Trained on 32-token examples (the config), it still reads windows as long as its parent's.
    assert (meta.name, meta.version, meta.max_length) == ("tiny-retrained", "r1", 64)
    assert meta.parents[0]["path"] == str(Path(tiny_model_dir).resolve())
    assert set(meta.data_hashes) == {"base", "labels", "labels:held-back"}
    retrain = meta.metrics["retrain"]
    assert retrain["labels"] | {"share": None} == {
        "total": 20,
        "train": 17,
        "held_back": 3,
        "repeat": 1,
        "share": None,
        "holdout_fraction": 0.2,
        "article_windows": "top",
        "article_top_k": 2,
        "parent_weight": 0.0,
        "eval_rows_left_out": {},  # no label is a dev text here
    }
    assert "soup" not in meta.extra
    assert set(meta.metrics["dev"]) == {"dev", "new-labels"} and retrain["gate"]["passed"]
    assert len((version_dir / "heldout_labels.jsonl").read_text().splitlines()) == 3
    assert json.loads((version_dir / "gate.json").read_text()) == retrain["gate"]
    assert "## Retraining" in (version_dir / "README.md").read_text()
    assert not list(world.registry.glob("r*/_trainer"))

    listed = runner.invoke(app, ["models", "list", *where])
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        ("default", "promoted", "-", "-"),
        ("r1", "candidate", "default", "pass"),
    ]

    assert runner.invoke(app, ["models", "promote", "r1", *where]).stdout == "promoted r1; was default\n"
    assert runner.invoke(app, ["models", "promote", "r1", *where]).stdout == "r1 is already promoted\n"

    # A gate the new labels cannot pass: the version is registered as rejected, not promoted.
    result = runner.invoke(
        app,
        ["retrain", "--config", str(world.config), "--min-gain", "1000", "--epochs", "1", "--json", *where],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["version"], out["parent"], out["status"], out["promoted"]) == ("r2", "r1", "rejected", False)
    assert out["gate"]["compared_to"] == "r1" and not out["gate"]["passed"]
    assert out["gate"]["reasons"][-1].endswith("it must gain more than 1000")
    assert set(out["old"]) == set(out["new"]) == {"dev", "new-labels"}
    with ModelRegistry.open(world.database, world.registry) as reg:
        stored = reg.get("r2")
    assert stored.gate == out["gate"] and stored.metrics is not None and stored.metrics["new"] == out["new"]

    refused = runner.invoke(app, ["models", "promote", "r2", *where])
    assert refused.exit_code == 2
    assert "model version r2 failed the promotion gate" in refused.output
    assert "promote it anyway with `slant models promote r2 --force`" in refused.output
    forced = runner.invoke(app, ["models", "promote", "r2", "--force", "--reason", "checked by hand", *where])
    assert forced.stdout == "promoted r2 (forced past the gate); was r1\n"
    shown = json.loads(runner.invoke(app, ["models", "show", "r2", *where]).stdout)
    assert shown["status"] == "promoted"
    assert shown["events"][-1]["forced"] is True and shown["events"][-1]["reason"] == "checked by hand"

    assert runner.invoke(app, ["models", "rollback", *where]).stdout == "rolled back from r2 to r1\n"
    assert runner.invoke(app, ["models", "rollback", *where]).stdout == "rolled back from r1 to default\n"
    last = runner.invoke(app, ["models", "rollback", *where])
    assert last.exit_code == 2 and "no version was promoted before default" in last.output
    listed = json.loads(runner.invoke(app, ["models", "list", "--json", *where]).stdout)
    assert {v["version"]: v["status"] for v in listed} == {
        "default": "promoted",
        "r1": "rolled_back",
        "r2": "rolled_back",
    }


def test_retrain_without_labels_or_a_config_says_what_to_do(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("SLANT_MODEL", str(tiny_model_dir))
    where = ["--database", f"sqlite:///{tmp_path}/empty.db", "--registry", str(tmp_path / "reg")]
    result = CliRunner().invoke(app, ["retrain", *where])
    assert result.exit_code == 2
    assert "has no labels, so retraining has nothing new to learn" in result.output
    assert "slant labels import FILE" in result.output

    world = make_world(tmp_path / "world", tiny_model_dir, labels=4)
    where = ["--database", world.database, "--registry", str(world.registry)]
    result = CliRunner().invoke(app, ["retrain", *where])  # the tiny model records no training config
    assert result.exit_code == 2
    assert "records no training config" in result.output
    assert "--config training/configs/default-stage4.yaml" in result.output
    assert not list(world.registry.iterdir())  # the reserved version directory was removed


def test_retrain_refuses_a_config_that_is_not_a_small_regular_file(tmp_path, tiny_model_dir, monkeypatch):
    import os

    monkeypatch.setenv("SLANT_MODEL", str(tiny_model_dir))
    world = make_world(tmp_path / "world", tiny_model_dir, labels=4)
    where = ["--database", world.database, "--registry", str(world.registry)]
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_text(world.config.read_text() + "#" * 300_000 + "\n")
    for config, message in [
        ("/dev/zero", "config /dev/zero is not a regular file (it is a character device)"),
        (str(fifo), f"config {fifo} is not a regular file (it is a FIFO)"),
        (str(big), f"config file {big} is larger than the limit of 262,144 bytes"),
    ]:
        result = CliRunner().invoke(app, ["retrain", "--config", config, *where])
        assert result.exit_code == 2, result.output
        assert f"error: {message}" in result.output
    assert not list(world.registry.iterdir())


def test_retrain_options_take_their_defaults_and_bounds_from_the_settings(tmp_path):
    import typer.main

    from training.retrain_options import RetrainSettings

    params = {p.name: p for p in typer.main.get_command(app).commands["retrain"].params}
    shared = [name for name in RetrainSettings.model_fields if name in params]
    assert len(shared) >= 18
    for name in shared:
        assert params[name].default == RetrainSettings.model_fields[name].default, name
    # Typer states closed bounds; an open one on a float is in the help and pydantic's to check.
    assert "(0<=x<1)" in (params["label_share"].help or "") and "(0<x<1)" in (params["holdout"].help or "")
    where = ["--database", f"sqlite:///{tmp_path}/labels.db", "--registry", str(tmp_path / "reg")]
    result = CliRunner().invoke(app, ["retrain", "--label-share", "1", *where])
    assert result.exit_code == 2
    assert "error: invalid retrain options: label_share: Input should be less than 1" in result.output
    result = CliRunner().invoke(app, ["retrain", "--max-length", "8", *where])
    assert result.exit_code == 2 and "--max-length" in result.output and "16" in result.output
    assert not (tmp_path / "labels.db").exists()  # refused before anything was opened


def test_retrain_names_a_bad_article_windows_choice(tmp_path):
    where = ["--database", f"sqlite:///{tmp_path}/labels.db", "--registry", str(tmp_path / "reg")]
    result = CliRunner().invoke(app, ["retrain", "--article-windows", "some", *where])
    assert result.exit_code == 2
    assert "article_windows: Input should be 'all' or 'top'" in result.output
    assert not (tmp_path / "labels.db").exists()


def test_parent_weight_averages_the_new_weights_with_the_current_models(
    tmp_path, tiny_model_dir, monkeypatch
):
    from safetensors.torch import load_file

    world = make_world(tmp_path / "world", tiny_model_dir)
    monkeypatch.setenv("SLANT_MODEL", str(tiny_model_dir))
    where = ["--database", world.database, "--registry", str(world.registry)]
    args = ["retrain", "--config", str(world.config), "--tolerance", "100", "--no-promote", *where]
    result = CliRunner().invoke(app, [*args, "--parent-weight", "0.5"])
    assert result.exit_code == 0, result.output
    assert "averaging the weights: 0.5 x default + the fine-tuned" in result.output
    meta = read_meta(world.registry / "r1")
    assert (
        meta.extra["soup"]["alpha_old"] == 0.5 and meta.metrics["retrain"]["labels"]["parent_weight"] == 0.5
    )
    # The averaged weights are not the parent's: the fine-tuned half moved them.
    parent = load_file(str(Path(tiny_model_dir) / "model.safetensors"))
    mixed = load_file(str(world.registry / "r1" / "model.safetensors"))
    moved = [
        k
        for k in parent
        if k in mixed and parent[k].shape == mixed[k].shape and not parent[k].equal(mixed[k])
    ]
    assert moved  # it was trained, and it is not the parent
    bad = CliRunner().invoke(app, [*args, "--parent-weight", "1"])
    assert bad.exit_code == 2 and "parent_weight: Input should be less than 1" in bad.output
