"""Shared fixtures: a tiny randomly initialised BERT classifier saved as a slant model directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("SLANT_HEADS", None)  # a developer's extra heads would not fit the tiny test models

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SLANT_DATA_ROOT", REPO.parent / "shared" / "data"))
DEFAULT_MODEL = REPO / "models" / "default"

ARTICLE = (
    "Bernie Sanders rallies thousands in Iowa\n"
    "DES MOINES - Senator Bernie Sanders drew a crowd of thousands on Saturday. "
    "Sanders praised the volunteers who built his campaign. "
    "The Democratic National Committee declined to comment on the debate schedule. "
    "Critics say the DNC has tilted the primary toward Hillary Clinton.\n"
    "Advertisement\n"
    "Clinton's campaign said it welcomed the debates. "
    "Sanders told reporters that the DNC must stay neutral. "
    + "Voters in the state have heard many speeches this year. " * 40
    + "\nLeave a Reply\nBernie is the worst, lol. Share this!"
)


def build_tiny_model_dir(path: Path, *, seed: int = 0, max_length: int = 64, window_format: int = 1) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from model.labels import STANCE_LABELS
    from model.loading import ModelMeta, resolve_pretrained, save_model_dir

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve_pretrained("minilm"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=3,
    )
    model = BertForSequenceClassification(config)
    if window_format == 2:
        from model.windows import add_markers

        add_markers(tokenizer, model)
    meta = ModelMeta(
        labels=list(STANCE_LABELS),
        base_model="tiny-random-bert",
        max_length=max_length,
        name="tiny-test",
        version="0",
        window_format=window_format,
    )
    return save_model_dir(path, model, tokenizer, meta, fp16=False)


def build_tiny_heads(model_dir: Path, loaded_dir: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """Random leaning and hyperpartisan heads in ``model_dir/bias``; loaded language in ``loaded_dir``."""
    import numpy as np

    from model.backends import weights_hash
    from model.bias import BiasHead
    from model.loading import load_classifier

    model, _, _ = load_classifier(model_dir)
    encoder, hidden = weights_hash(model), int(model.config.hidden_size)
    rng = np.random.default_rng(seed)
    specs = [
        ("leaning", "article", ["left", "center", "right"], None, model_dir / "bias" / "leaning"),
        ("hyperpartisan", "article", ["not_hyperpartisan", "hyperpartisan"], "hyperpartisan", None),
        ("loaded_language", "sentence", ["non-biased", "biased"], "biased", loaded_dir),
    ]
    for task, level, labels, positive, where in specs:
        BiasHead(
            task=task,  # type: ignore[arg-type]
            level=level,  # type: ignore[arg-type]
            labels=labels,
            weight=rng.normal(size=(len(labels), hidden)).astype(np.float32),
            bias=np.zeros(len(labels), np.float32),
            mean=np.zeros(hidden, np.float32),
            scale=np.ones(hidden, np.float32),
            encoder=encoder,
            positive=positive,
            lead_sentences=4,
            licence="test",
        ).save(where or model_dir / "bias" / task)
    return model_dir, loaded_dir


@pytest.fixture(scope="session")
def tiny_bias_model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a tiny model directory carrying leaning and hyperpartisan heads, a loaded-language head directory)."""
    root = tmp_path_factory.mktemp("tinybias")
    return build_tiny_heads(build_tiny_model_dir(root / "model"), root / "loaded-language")


@pytest.fixture(scope="session")
def tiny_bias_predictor(tiny_bias_model_dir: tuple[Path, Path]):
    """The tiny model with all three bias heads (torch backend)."""
    from model import StancePredictor

    model_dir, loaded = tiny_bias_model_dir
    return StancePredictor.load(model_dir, heads=[loaded], device="cpu", backend="torch")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_predictor(tiny_model_dir: Path):
    from model import StancePredictor

    return StancePredictor.load(tiny_model_dir, device="cpu", backend="torch")


@pytest.fixture(scope="session")
def article() -> str:
    return ARTICLE


def needs_data(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path}: set SLANT_DATA_ROOT to the shared data folder")
    return path


def needs_default_model() -> Path:
    if not (DEFAULT_MODEL / "slant.json").exists():
        pytest.fail(f"the shipped default model is missing from {DEFAULT_MODEL}")
    return DEFAULT_MODEL
