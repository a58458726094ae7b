"""A tiny retraining world for tests: a label store with a few labels, a base mix and an eval set of
a few rows, a training config over them, and model directories to register (all under tmp_path)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BASE = [
    ("Bernie Sanders", "Bernie is wonderful and honest", "favor"),
    ("Bernie Sanders", "Bernie is a terrible liar", "against"),
    ("DNC", "The DNC met on Tuesday in a hotel", "neutral"),
    ("Donald Trump", "Trump is a disgrace", "against"),
]


@dataclass(frozen=True)
class RetrainWorld:
    root: Path
    model: Path
    config: Path
    database: str
    registry: Path


def label_texts(n: int = 20) -> list[tuple[str, str, str]]:
    """(text, actor, label): an obvious pattern, so 20 epochs of the tiny model learn it."""
    return [
        (
            f"Sanders speech number {i} was {'great great' if i % 2 else 'awful awful'}",
            "Bernie Sanders",
            "favor" if i % 2 else "against",
        )
        for i in range(n)
    ]


def make_world(root: Path, model: Path, *, labels: int = 20) -> RetrainWorld:
    """Write the data and config, store ``labels`` labels (3 of the 20 fall in the held-back slice)."""
    from training.store import LabelStore, new_label

    root.mkdir(parents=True, exist_ok=True)
    (root / "base.jsonl").write_text(
        "".join(json.dumps({"target": t, "text": x, "label": y}) + "\n" for t, x, y in BASE), encoding="utf-8"
    )
    config = root / "retrain.yaml"
    config.write_text(
        f"""name: tiny-retrained
base_model: {model}
max_length: 32
data_root: {root}
train: [{{name: base, path: base.jsonl}}]
eval: [{{name: dev, path: base.jsonl}}]
training: {{epochs: 20, batch_size: 8, learning_rate: 0.01, warmup_ratio: 0.0, logging_steps: 10}}
fp16_weights: false
""",
        encoding="utf-8",
    )
    database = f"sqlite:///{root}/labels.db"
    with LabelStore.open(database) as store:
        store.add([new_label(text=t, actor=a, label=y, annotator="test") for t, a, y in label_texts(labels)])
    return RetrainWorld(root=root, model=model, config=config, database=database, registry=root / "registry")


def versioned_copy(model: Path, dest: Path, version: str, *, seed: int = 1) -> Path:
    """A tiny model directory whose slant.json says ``version`` (a fresh random model per seed)."""
    from conftest import build_tiny_model_dir

    from model.loading import read_meta, write_meta

    out = build_tiny_model_dir(dest, seed=seed)
    meta = read_meta(out)
    meta.version = version
    write_meta(out, meta)
    return out


def fake_model_dir(path: Path) -> Path:
    """A directory that passes the registry's file checks (not loadable: for index tests only)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (path / name).write_text("{}", encoding="utf-8")
    (path / "slant.json").write_text(json.dumps({"format_version": 1}), encoding="utf-8")
    return path
