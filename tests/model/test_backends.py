"""The ONNX Runtime backends agree with torch, cache their export, and fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from model import StancePredictor
from model.backends import BACKENDS, make_backend
from model.errors import ConfigError, ModelLoadError

TEXTS = [
    "Bernie Sanders is right about wages, and the DNC should listen to him.",
    "The DNC rigged the primary against Sanders. " * 30,
    "Hillary Clinton spoke in Ohio on Tuesday.",
]
ACTORS = ["Bernie Sanders", "DNC", "Hillary Clinton"]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def predictors(tiny_model_dir, onnx_dir):
    return {
        name: StancePredictor.load(tiny_model_dir, device="cpu", backend=name, onnx_dir=onnx_dir)
        for name in ("torch", "onnx", "onnx-int8")
    }


def _probs(predictor):
    out = predictor.predict(TEXTS, ACTORS, evidence=1)
    rows = [r.probabilities for res in out for r in res if r.probabilities]
    return np.array([[p[k] for k in predictor.labels] for p in rows])


def test_onnx_fp32_matches_torch(predictors):
    torch_p, onnx_p = _probs(predictors["torch"]), _probs(predictors["onnx"])
    assert torch_p.shape == onnx_p.shape and len(torch_p) > 0
    np.testing.assert_allclose(onnx_p, torch_p, atol=1e-4)


def test_onnx_int8_is_close_to_torch(predictors):
    torch_p, int8_p = _probs(predictors["torch"]), _probs(predictors["onnx-int8"])
    # Quantisation moves probabilities a little; it must not scramble them.
    assert np.abs(int8_p - torch_p).max() < 0.15
    assert not np.allclose(int8_p, torch_p, atol=1e-7), "int8 gave exactly fp32 output: not quantised?"


def test_int8_depends_on_batch_companions_only_slightly(predictors):
    """Dynamic quantisation scales activations per batch: documented, and bounded here."""
    p = predictors["onnx-int8"]
    targets, texts = ["Bernie Sanders"] * 3, [TEXTS[0], TEXTS[1][:300], TEXTS[2]]
    batched = p.score_pairs(targets, texts)
    single = np.vstack([p.score_pairs([t], [x]) for t, x in zip(targets, texts, strict=True)])
    assert np.abs(batched - single).max() < 0.05
    np.testing.assert_allclose(p.score_pairs(targets, texts), batched)  # same batch: same answer


def test_export_is_cached_and_reused(predictors, onnx_dir, tiny_model_dir):
    files = sorted(p.name for p in onnx_dir.iterdir())
    assert files == ["model-int8.onnx", "model.onnx"]
    before = {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()}
    StancePredictor.load(tiny_model_dir, device="cpu", backend="onnx-int8", onnx_dir=onnx_dir)
    assert {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()} == before


def test_default_cache_is_keyed_by_weights(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path))
    p = StancePredictor.load(tiny_model_dir, device="cpu", backend="onnx")
    (key,) = [d.name for d in (tmp_path / "onnx").iterdir()]
    assert (tmp_path / "onnx" / key / "model.onnx").exists()
    assert p.backend.name == "onnx"


def test_auto_is_torch_on_a_gpu_device(tiny_predictor):
    backend = make_backend("auto", tiny_predictor.model, tiny_predictor.tokenizer, "cuda")
    assert backend.name == "torch"


def test_unknown_backend_and_onnx_on_gpu_are_config_errors(tiny_predictor):
    with pytest.raises(ConfigError, match="unknown inference backend") as err:
        make_backend("tensorrt", tiny_predictor.model, tiny_predictor.tokenizer, "cpu")
    assert all(name in err.value.fix for name in BACKENDS)
    with pytest.raises(ConfigError, match="runs on the CPU"):
        make_backend("onnx-int8", tiny_predictor.model, tiny_predictor.tokenizer, "cuda")


def test_corrupt_cached_file_says_how_to_fix(tiny_model_dir, tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(ModelLoadError) as err:
        StancePredictor.load(tiny_model_dir, device="cpu", backend="onnx", onnx_dir=tmp_path)
    assert str(tmp_path) in err.value.fix


def test_slant_backend_environment_variable_sets_the_default(tiny_model_dir, onnx_dir, monkeypatch):
    monkeypatch.setenv("SLANT_BACKEND", "onnx")
    assert StancePredictor.load(tiny_model_dir, device="cpu", onnx_dir=onnx_dir).backend.name == "onnx"
    monkeypatch.setenv("SLANT_BACKEND", "torch")
    assert StancePredictor.load(tiny_model_dir, device="cpu").backend.name == "torch"
