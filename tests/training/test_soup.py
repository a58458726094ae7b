"""training.soup: the weight average the shipped model is made with."""

import json

import pytest
from safetensors.torch import load_file

from model.errors import InvalidInputError
from tests.conftest import build_tiny_model_dir
from training.pipeline import model_card
from training.soup import average_weights


def test_average_is_the_weighted_mean_and_keeps_the_new_model_files(tmp_path):
    old = build_tiny_model_dir(tmp_path / "old", seed=1)
    new = build_tiny_model_dir(tmp_path / "new", seed=2)
    (new / "bias").mkdir()  # heads belong to one encoder: never carried into the average
    out = average_weights(old, new, alpha=0.25, out=tmp_path / "soup")
    a, b, m = (load_file(str(d / "model.safetensors")) for d in (old, new, out))
    assert set(m) == set(b)
    for k in m:
        want = 0.25 * a[k].float() + 0.75 * b[k].float()
        assert m[k].dtype == b[k].dtype
        assert (m[k].float() - want).abs().max() < 1e-3, k
    assert any((m[k] != b[k]).any() for k in m)  # it did mix
    assert not (out / "bias").exists()
    meta = json.loads((out / "slant.json").read_text())
    soup = meta["extra"]["soup"]
    assert soup["alpha_old"] == 0.25 and soup["old"]["path"] == str(old) and soup["new"]["path"] == str(new)
    assert "an average (`training/soup.py`) of 0.25 x" in model_card(meta)


def test_bad_alpha_or_directory_is_refused(tmp_path):
    new = build_tiny_model_dir(tmp_path / "new", seed=2)
    with pytest.raises(InvalidInputError, match="alpha is 1.5"):
        average_weights(new, new, alpha=1.5, out=tmp_path / "soup")
    with pytest.raises(InvalidInputError, match="has no model.safetensors"):
        average_weights(tmp_path / "missing", new, alpha=0.5, out=tmp_path / "soup")
    assert not (tmp_path / "soup").exists()
