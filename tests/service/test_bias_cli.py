"""`slant fit-bias` and the bias part of `slant evaluate`: the wiring over training.bias and
training.evaluate (CliRunner), on the tiny model and a tiny data folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _bias_fixtures import leaning_article, write_bias_data
from typer.testing import CliRunner

from model.bias import load_head
from service.cli import app

runner = CliRunner()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fit_bias_writes_a_head_into_the_model_dir(tiny_model_dir, tmp_path, cache):
    data = write_bias_data(tmp_path / "data")
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    result = runner.invoke(
        app,
        [
            "fit-bias",
            "--model",
            str(model),
            "--task",
            "leaning",
            "--data-root",
            str(data),
            "--train-rows",
            "12",
        ],
    )
    assert result.exit_code == 0, result.output
    head_dir = model / "bias" / "leaning"
    assert f"{head_dir}: leaning head, dev macro-F1 " in result.stdout
    assert "(12 dev rows); data licence: Apache-2.0" in result.stdout
    head = load_head(head_dir)
    assert head.info["train_examples"] == 12
    assert "slant fit-bias --model" in (head_dir / "README.md").read_text()


def test_fit_bias_loaded_language_needs_its_own_dir_and_says_why(tiny_model_dir, tmp_path, cache):
    data = write_bias_data(tmp_path / "data")
    where = ["--model", str(tiny_model_dir), "--task", "loaded_language", "--data-root", str(data)]
    refused = runner.invoke(app, ["fit-bias", *where])
    assert refused.exit_code == 2
    assert "error: --out: the loaded-language head needs an explicit --out" in refused.output
    assert "SLANT_HEADS=models/loaded-language-babe" in refused.output
    done = runner.invoke(app, ["fit-bias", *where, "--out", str(tmp_path / "babe")])
    assert done.exit_code == 0, done.output
    assert "data licence: AGPL-3.0" in done.stdout and "note: BABE is AGPL-3.0" in done.stdout
    missing = runner.invoke(
        app, ["fit-bias", "--model", str(tiny_model_dir), "--task", "leaning", "--data-root", str(tmp_path)]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output and "--data-root" in missing.output


def _rows() -> list[dict]:
    rows = []
    for i, label in enumerate(["left", "center", "right"] * 3):
        rows.append({"text": leaning_article(label, i), "leaning": label})
    for i, label in enumerate(["favor", "against", "none"] * 4):
        rows.append(
            {
                "text": f"Sanders said thing {i}. He spoke for an hour.",
                "target": "Bernie Sanders",
                "label": label,
                "hyperpartisan": bool(i % 2),
            }
        )
    return rows


def test_evaluate_reports_leaning_and_hyperpartisan_beside_stance(tiny_bias_model_dir, tmp_path):
    model, _ = tiny_bias_model_dir
    data = tmp_path / "mixed.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()), encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(model)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["reports"]["mixed.jsonl"]
    assert report["n"] == 12 and report["per_target"]["Bernie Sanders"]["n"] == 12  # stance rows only
    leaning = report["leaning"]
    assert leaning["n"] == 9 and leaning["gold_counts"] == {"left": 3, "center": 3, "right": 3}
    assert set(leaning) >= {"macro_f1", "accuracy", "f1_per_class", "confusion"}
    assert leaning["confusion"]["labels"] == ["left", "center", "right"]
    hyper = report["hyperpartisan"]
    assert hyper["n"] == 12 and {"macro_f1", "accuracy", "roc_auc", "brier"} <= set(hyper)
    assert 0.0 <= hyper["brier"] <= 1.0

    only = tmp_path / "leaning.csv"
    only.write_text("text,leaning\n" + "".join(f'"{leaning_article(x, 1)}",{x}\n' for x in ("left", "right")))
    result = runner.invoke(app, ["evaluate", "--data", str(only), "--model", str(model)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["reports"]["leaning.csv"]
    assert set(report) == {"name", "leaning"} and report["leaning"]["n"] == 2


def test_evaluate_without_the_head_says_how_to_get_one(tiny_model_dir, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"text": "An article.", "leaning": "left"}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(tiny_model_dir)])
    assert result.exit_code == 2
    assert "d.jsonl has a 'leaning' field, but the model (tiny-test 0) has no leaning head" in result.output
    assert "slant fit-bias --model <model dir> --task leaning" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "An article.", "hyperpartisan": "perhaps"}) + "\n", encoding="utf-8")
    model = tmp_path / "with-heads"
    from conftest import build_tiny_heads

    build_tiny_heads(Path(shutil.copytree(tiny_model_dir, model)), tmp_path / "ll")
    result = runner.invoke(app, ["evaluate", "--data", str(bad), "--model", str(model)])
    assert result.exit_code == 2 and "unknown hyperpartisan label 'perhaps'" in result.output


def test_evaluate_reports_loaded_language_with_the_optional_head(tiny_bias_model_dir, tmp_path):
    model, loaded = tiny_bias_model_dir
    data = tmp_path / "sentences.jsonl"
    rows = [
        {"text": "The senator's reckless scheme will wreck the economy.", "loaded_language": "biased"},
        {"text": "The bill passed the Senate on Tuesday.", "loaded_language": "non-biased"},
        {"text": "Critics called the plan a disgraceful giveaway.", "loaded_language": "biased"},
        {"text": "The committee will meet again in March.", "loaded_language": "non-biased"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["evaluate", "--data", str(data), "--model", str(model)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "no loaded_language head" in result.output
    result = runner.invoke(app, [*args, "--heads", str(loaded)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["reports"]["sentences.jsonl"]
    ll = report["loaded_language"]
    assert ll["n"] == 4 and ll["gold_counts"] == {"non-biased": 2, "biased": 2}
    assert {"macro_f1", "accuracy", "roc_auc", "brier", "ece"} <= set(ll)
