"""The marker-pooling head (model/heads.py): converted without changing predictions, trained, served."""

import json
from pathlib import Path

import numpy as np
import pytest

from model import StancePredictor
from model.errors import ConfigError, ModelLoadError
from model.heads import head_of
from training.config import TrainConfig
from training.train import fine_tune

ROWS = [
    ("Bernie Sanders", "The attacks on Sanders are vile lies, and I am furious.", "favor"),
    ("Bernie Sanders", "Sanders is a fraud, happy to see him lose.", "against"),
    ("Hillary Clinton", "Critics called Clinton a liar, the paper reported.", "neutral"),
    ("Hillary Clinton", "Clinton beat Sanders, and Sanders deserved it.", "favor"),
    ("Bernie Sanders", "Clinton beat Sanders, and Sanders deserved it.", "against"),
    ("Donald Trump", "Trump spoke in Ohio on Monday.", "neutral"),
]


def _config(base: Path, tmp_path: Path, **extra: object) -> TrainConfig:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"target": t, "text": x, "label": y}) + "\n" for t, x, y in ROWS))
    return TrainConfig.model_validate(
        {
            "name": "markers",
            "base_model": str(base),
            "max_length": 48,
            "data_root": str(tmp_path),
            "train": [{"name": "rows", "path": "rows.jsonl"}],
            "window_format": 2,
            "head": "markers",
            "training": {"epochs": 40, "batch_size": 6, "learning_rate": 3e-3, "warmup_ratio": 0.0},
            "fp16_weights": False,
        }
        | extra
    )


@pytest.fixture(scope="module")
def marked_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import build_tiny_model_dir

    return build_tiny_model_dir(tmp_path_factory.mktemp("marked") / "model", window_format=2)


def test_converted_head_starts_as_the_model_it_came_from(marked_dir: Path) -> None:
    from model.heads import with_marker_head
    from model.windows import MARKERS

    old = StancePredictor.load(marked_dir, backend="torch")
    targets, texts = [r[0] for r in ROWS], [r[1] for r in ROWS]
    before = old.score_pairs(targets, texts)
    marker = old.tokenizer.convert_tokens_to_ids(MARKERS[0])
    old.model = with_marker_head(old.model, marker).eval()
    old.backend.model = old.model
    assert head_of(old.model) == "markers"
    assert np.allclose(before, old.score_pairs(targets, texts), atol=1e-6)


def test_trained_marker_head_learns_saves_and_serves(marked_dir: Path, tmp_path: Path) -> None:
    out = fine_tune(_config(marked_dir, tmp_path), output_dir=tmp_path / "model")
    assert json.loads((out / "config.json").read_text())["model_type"] == "slant_marker_pool"
    assert json.loads((out / "slant.json").read_text())["metrics"]["train"]["head"] == "markers"
    p = StancePredictor.load(out, backend="torch")
    assert head_of(p.model) == "markers"
    # One text, two actors, opposite labels, each learned.
    text = "Clinton beat Sanders, and Sanders deserved it."
    [res] = p.predict([text], ["Hillary Clinton", "Bernie Sanders"])
    assert [a.label for a in res] == ["favor", "against"]
    # A retrain-style fine-tune from it keeps the head even when the config says cls.
    again = fine_tune(
        _config(out, tmp_path, head="cls", training={"epochs": 1, "batch_size": 6}),
        output_dir=tmp_path / "again",
    )
    assert head_of(StancePredictor.load(again, backend="torch").model) == "markers"


def test_marker_head_exports_to_onnx(
    marked_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    out = fine_tune(
        _config(marked_dir, tmp_path, training={"epochs": 2, "batch_size": 6}), output_dir=tmp_path / "m"
    )
    torch_p = StancePredictor.load(out, backend="torch")
    onnx_p = StancePredictor.load(out, backend="onnx")
    targets, texts = [r[0] for r in ROWS], [r[1] for r in ROWS]
    assert np.allclose(torch_p.score_pairs(targets, texts), onnx_p.score_pairs(targets, texts), atol=1e-4)


def test_marker_head_needs_marked_windows(marked_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="window format 2"):
        _config(marked_dir, tmp_path, window_format=1)
    out = fine_tune(
        _config(marked_dir, tmp_path, training={"epochs": 1, "batch_size": 6}), output_dir=tmp_path / "m"
    )
    meta = json.loads((out / "slant.json").read_text())
    meta["window_format"] = 1
    (out / "slant.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="marker-pooling head") as err:
        StancePredictor.load(out, backend="torch")
    assert "slant train" in str(err.value.fix)


def test_load_config_names_the_head_problem(tmp_path: Path) -> None:
    from training.config import load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "name: x\nbase_model: minilm\ntrain: [{name: a, path: a.jsonl}]\nwindow_format: 1\nhead: markers\n"
    )
    with pytest.raises(ConfigError, match="window_format: 2"):
        load_config(cfg)
