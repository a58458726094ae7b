from pathlib import Path

import pytest

from model.errors import ConfigError
from training.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"

BASE = """
name: t
base_model: minilm
train:
  - name: a
    path: a.jsonl
"""


def write(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_config_validates():
    cfg = load_config(CONFIGS / "default.yaml")
    assert cfg.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert [s.name for s in cfg.train] == ["semeval2016a", "pstance", "newsmtsc", "vast"]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_config_in_the_repository_validates(path):
    cfg = load_config(path)
    assert cfg.train and cfg.name


def test_unknown_keys_are_rejected(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE + "trainig: {epochs: 1}\n"))
    assert "trainig: Extra inputs are not permitted" in str(info.value)
    with pytest.raises(ConfigError, match=r"train.0.pth: Extra inputs"):
        load_config(write(tmp_path, BASE.replace("path:", "pth:")))


def test_overrides_and_toml(tmp_path):
    cfg = load_config(write(tmp_path, BASE), ["training.epochs=0.5", "seed=7", "training.learning_rate=1e-4"])
    assert (cfg.training.epochs, cfg.seed, cfg.training.learning_rate) == (0.5, 7, 1e-4)
    toml = 'name = "t"\nbase_model = "minilm"\n[[train]]\nname = "a"\nhf = "tweet_eval"\n'
    assert load_config(write(tmp_path, toml, "c.toml")).train[0].hf == "tweet_eval"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "is not valid YAML"),
        ("- just a list", "must hold a mapping"),
        (BASE.replace("    path: a.jsonl\n", ""), "give exactly one of 'path' or 'hf'"),
        (BASE + "max_length: 4\n", "max_length: Input should be greater than or equal to 16"),
    ],
)
def test_invalid_configs_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="is not key=value"):
        load_config(write(tmp_path, BASE), ["epochs"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_config_validates(path):
    cfg = load_config(path)
    assert cfg.eval and cfg.aggregator.data, "committed recipes report dev numbers and fit the aggregator"


def test_a_config_must_be_a_small_regular_file(tmp_path):
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(ConfigError, match=r"fifo.yaml is not a regular file \(it is a FIFO\)"):
        load_config(fifo)
    with pytest.raises(ConfigError, match=r"/dev/zero is not a regular file \(it is a character device\)"):
        load_config("/dev/zero")
    with pytest.raises(ConfigError, match="is not a regular file \\(it is a directory\\)"):
        load_config(tmp_path)
    big = write(tmp_path, BASE + "#" * 300_000 + "\n", "big.yaml")
    with pytest.raises(ConfigError, match="big.yaml is larger than the limit of 262,144 bytes"):
        load_config(big)


def test_config_errors_do_not_quote_the_file(tmp_path):
    secret = "name: t\nroot: SECRET-CONTENT: x\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, secret))
    assert "SECRET" not in str(info.value) and "is not valid YAML: " in str(info.value)
    assert "at line 2, column" in str(info.value)
    (tmp_path / "bin.yaml").write_bytes(b"SECRET \xff\xfe")
    with pytest.raises(ConfigError, match=r"bin.yaml is not UTF-8 text \(bad byte at byte 7\)"):
        load_config(tmp_path / "bin.yaml")
