"""Bias heads: article leaning, hyperpartisanship and loaded language.

Each head is a small linear classifier over sentence embeddings of the stance model's own
encoder: a sentence is encoded on its own (``[CLS] sentence [SEP]``, at most
``SENTENCE_TOKENS`` word pieces) and its last hidden states are mean-pooled.

- ``level: "article"`` heads (leaning, hyperpartisan) read the mean embedding of the article's
  first ``lead_sentences`` sentences;
- ``level: "sentence"`` heads (loaded language) score every sentence and flag those at or
  above ``threshold``.

The sentence sequences go through the same length-sorted batched forward pass as the stance
windows (see :meth:`model.StancePredictor.analyze`), so one encoder pass serves every head;
the stance windows are (actor, text) pairs and so cannot be shared with the actor-free bias
sentences, but they ride in the same batches.

A head is a directory: ``head.json`` (task, labels, options, the hash of the encoder it was
fitted on, licence, metrics) and ``head.safetensors`` (``weight``, ``bias``, ``mean``,
``scale``). A model directory carries its heads under ``bias/<task>/``; optional heads (the
BABE loaded-language head, whose training data is AGPL-licensed) live in their own directory and
are added with ``heads=[path]`` or ``$SLANT_HEADS``. A head fitted on another encoder is refused
at load: its features would mean nothing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import ModelLoadError
from .files import atomic_path, write_text_atomic
from .numeric import softmax
from .tasks import BIAS_TASKS, BiasTaskName

log = logging.getLogger(__name__)

TASKS: tuple[str, ...] = tuple(BIAS_TASKS)
HEADS_DIR = "bias"
HEAD_FILE = "head.json"
WEIGHTS_FILE = "head.safetensors"
#: Word pieces per sentence for the bias pass (longer sentences are cut).
SENTENCE_TOKENS = 64
#: Sentences a sentence-level head scores per text, from the top.
MAX_SENTENCES = 200


def linear_probabilities(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Softmax of a standardised linear layer: what every head computes, and what fitting scores."""
    return softmax(((x - mean) / scale) @ weight.T + bias)


@dataclass
class BiasHead:
    """One linear head over pooled sentence embeddings."""

    task: BiasTaskName
    level: Literal["article", "sentence"]
    labels: list[str]
    weight: np.ndarray  # (labels, hidden)
    bias: np.ndarray  # (labels,)
    mean: np.ndarray  # (hidden,) feature standardisation
    scale: np.ndarray  # (hidden,)
    encoder: str  # weights hash of the stance model the features come from
    positive: str | None = None  # binary heads: the label whose probability is the score
    lead_sentences: int = 16
    threshold: float = 0.5
    licence: str = ""
    info: dict[str, Any] = field(default_factory=dict)  # data, metrics, fitted-on; free-form
    path: str = ""

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, labels) probabilities for (n, hidden) pooled features."""
        return linear_probabilities(features, self.weight, self.bias, self.mean, self.scale)

    @property
    def sentences_read(self) -> int:
        """How many sentences from the top of a text this head reads."""
        return self.lead_sentences if self.level == "article" else MAX_SENTENCES

    def score(self, features: np.ndarray) -> np.ndarray:
        """Binary heads: the probability of ``positive`` for each row."""
        if self.positive is None:
            raise ValueError(f"the {self.task} head is not binary")
        out: np.ndarray = self.probabilities(features)[:, self.labels.index(self.positive)]
        return out

    def save(self, path: str | Path) -> Path:
        """Write ``head.json`` and ``head.safetensors`` into ``path`` (renamed into place)."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {
            "weight": self.weight.astype(np.float32),
            "bias": self.bias.astype(np.float32),
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
        }
        with atomic_path(path / WEIGHTS_FILE) as tmp:
            save_file(tensors, str(tmp))
        meta = {
            "task": self.task,
            "level": self.level,
            "labels": self.labels,
            "positive": self.positive,
            "lead_sentences": self.lead_sentences,
            "threshold": self.threshold,
            "encoder": self.encoder,
            "licence": self.licence,
            "info": self.info,
            "sentence_tokens": SENTENCE_TOKENS,
        }
        write_text_atomic(path / HEAD_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return path


def load_head(path: str | Path) -> BiasHead:
    """Read one head directory; every problem is a :class:`ModelLoadError` that says what to do."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not (path / HEAD_FILE).exists() or not (path / WEIGHTS_FILE).exists():
        raise ModelLoadError(
            f"{path} is not a bias head directory (it needs {HEAD_FILE} and {WEIGHTS_FILE})",
            field="heads",
            fix="pass a directory written by `slant fit-bias`, e.g. models/loaded-language-babe",
        )
    try:
        meta = json.loads((path / HEAD_FILE).read_text())
        tensors = load_file(str(path / WEIGHTS_FILE))
        head = BiasHead(
            task=meta["task"],
            level=meta["level"],
            labels=list(meta["labels"]),
            weight=tensors["weight"],
            bias=tensors["bias"],
            mean=tensors["mean"],
            scale=tensors["scale"],
            encoder=str(meta["encoder"]),
            positive=meta.get("positive"),
            lead_sentences=int(meta.get("lead_sentences", 16)),
            threshold=float(meta.get("threshold", 0.5)),
            licence=str(meta.get("licence", "")),
            info=dict(meta.get("info") or {}),
            path=str(path),
        )
    except (KeyError, ValueError, OSError) as exc:
        raise ModelLoadError(
            f"cannot read the bias head in {path}: {exc}", field="heads", fix="refit it with `slant fit-bias`"
        ) from None
    if head.task not in TASKS:
        raise ModelLoadError(
            f"{path}: unknown bias task {head.task!r}", field="heads", fix=f"use one of: {', '.join(TASKS)}"
        )
    if head.weight.shape != (len(head.labels), head.mean.shape[0]) or head.bias.shape != (len(head.labels),):
        raise ModelLoadError(
            f"{path}: weight shape {head.weight.shape} does not match {len(head.labels)} labels",
            field="heads",
            fix="refit it with `slant fit-bias`",
        )
    return head


def default_heads() -> list[str]:
    """Extra head directories from ``$SLANT_HEADS`` (comma-separated), e.g. the BABE head."""
    raw = os.environ.get("SLANT_HEADS") or ""
    return [p.strip() for p in raw.split(",") if p.strip()]


def head_dirs(model_dir: str | Path | None) -> list[Path]:
    """The head directories a model directory carries (``bias/<task>/``), sorted by name."""
    if model_dir is None or not (Path(model_dir) / HEADS_DIR).is_dir():
        return []
    # Hidden directories are a writer's temporary ones (a fit in progress): never heads.
    found = (Path(model_dir) / HEADS_DIR).iterdir()
    return sorted(p for p in found if not p.name.startswith(".") and (p / HEAD_FILE).exists())


def load_heads(
    model_dir: str | Path | None,
    extra: Sequence[str | Path],
    *,
    encoder: str,
    skip_stale: bool = False,
    skipped: list[str] | None = None,
) -> dict[str, BiasHead]:
    """The heads a model directory carries (``bias/*``) plus ``extra`` ones, by task.

    A later head replaces an earlier one of the same task, so an extra head overrides the
    model's own. Heads fitted on another encoder are refused; with ``skip_stale``, an *extra*
    one is left out instead (logged, and its message appended to ``skipped``): a long-running
    service keeps serving stance after a retrain changed the encoder under an optional head.
    """
    dirs = head_dirs(model_dir)
    own = len(dirs)
    dirs += [Path(p) for p in extra]
    heads: dict[str, BiasHead] = {}
    for k, d in enumerate(dirs):
        head = load_head(d)
        if head.encoder != encoder:
            error = ModelLoadError(
                f"the {head.task} head in {d} was fitted on encoder {head.encoder}, "
                f"but this model's is {encoder}",
                field="heads",
                fix="refit the head on this model with `slant fit-bias --model <model dir>`",
            )
            if skip_stale and k >= own:
                log.warning("bias head left out: %s", error)
                if skipped is not None:
                    skipped.append(str(error))
                continue
            raise error
        heads[head.task] = head
    return heads


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the hidden states over real (unpadded) tokens: (batch, tokens, h) -> (batch, h)."""
    m = mask[..., None].astype(np.float32)
    out: np.ndarray = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
    return out


def article_features(sentence_features: np.ndarray, lead: int) -> np.ndarray:
    """The article vector an article-level head reads: the mean of its first ``lead`` sentences."""
    if len(sentence_features) == 0:
        raise ValueError("no sentences")
    out: np.ndarray = sentence_features[:lead].mean(axis=0)
    return out


def text_features(
    sentence_features: Sequence[np.ndarray], *, level: str, lead: int, hidden: int
) -> np.ndarray:
    """(texts, hidden): the vector a head of ``level`` reads for each whole text.

    An article head reads the mean of the first ``lead`` sentences; a sentence head reads a labelled
    text as one unit (a "sentence" can hold more than one: they are pooled). A text with no
    sentence gets zeros.
    """
    rows = [
        (article_features(f, lead) if level == "article" else f.mean(axis=0))
        if len(f)
        else np.zeros(hidden, np.float32)
        for f in sentence_features
    ]
    return np.stack(rows) if rows else np.zeros((0, hidden), np.float32)
