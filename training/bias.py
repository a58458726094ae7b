"""Fitting the bias heads (article leaning, hyperpartisanship, loaded language) on a stance model.

The encoder stays frozen: each text's sentences are encoded once by the predictor
(:meth:`model.StancePredictor.sentence_features`, the path the service uses), and a logistic
regression is fitted on the pooled features. Fitting is cheap on a CPU; encoding is the cost, so
features are cached under ``$SLANT_CACHE/features`` by encoder, backend and the texts' hash.

Data (from ``../shared/data``, read its README for licences):

Each task's labels, licence, data files and dev rule are declared in :mod:`model.tasks`; its
data reader is in ``READERS`` below.

- ``leaning``: Article-Bias-Prediction (AllSides, Apache-2.0), title + body; model selection on
  the *media* split (train and valid share no outlet), as the issue asks: the random split
  rewards memorising outlets.
- ``hyperpartisan``: SemEval-2019 Task 4 by-article (645 training articles; no licence stated);
  it has no validation split here, so dev numbers are 5-fold cross-validation, stratified.
- ``loaded_language``: BABE (SG2, expert labels, AGPL-3.0) plus SG1; dev is a fixed 20% of
  SG2 by a hash of the sentence id, and no dev sentence's text is trained on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import lzma
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from model import StancePredictor
from model.backends import cache_dir
from model.bias import HEADS_DIR, MAX_SENTENCES, TASKS, BiasHead, linear_probabilities, text_features
from model.errors import ConfigError
from model.files import atomic_path
from model.tasks import BIAS_TASKS, CROSS_VALIDATED, TaskSpec

from .metrics import expected_calibration_error

log = logging.getLogger(__name__)

LEAD_SENTENCES = 16
#: Article heads average the embeddings of the first N sentences; N is picked on dev from these.
LEAD_GRID = (4, 8, 16)
C_GRID = (0.01, 0.1, 1.0)


@dataclass
class Example:
    text: str
    label: str
    group: str = ""  # outlet or other unit that must not straddle train and dev


def _hash_fraction(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _need(path: Path) -> Path:
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist", fix="point --data-root at the shared data folder (../shared/data)"
        )
    return path


def leaning_data(
    root: Path, *, train_rows: int | None = None, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(train, valid) of Article-Bias-Prediction's media split; ``train_rows`` samples the train part."""
    base = root / "article_bias_prediction"
    split = {}
    with open(_need(base / "articles_index.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            split[r["id"]] = r.get("split_media")
    train: list[Example] = []
    valid: list[Example] = []
    with lzma.open(_need(base / "articles.jsonl.xz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            part = split.get(r["ID"])
            if part not in ("train", "valid"):
                continue
            ex = Example(f"{r['title']}\n\n{r['content']}", r["bias_text"], r["source"])
            (train if part == "train" else valid).append(ex)
    if train_rows is not None and train_rows < len(train):
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(len(train), size=train_rows, replace=False).tolist())
        train = [train[i] for i in keep]
    return train, valid


def hyperpartisan_data(root: Path) -> list[Example]:
    """The by-article training articles (the test part is held out elsewhere)."""
    out = []
    path = _need(root / "hyperpartisan_semeval2019" / "hyperpartisan_byarticle.jsonl")
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("split") == "train":
                # Grouped by web site: cross-validation folds never split a site's articles.
                site = urlparse(r.get("url") or "").netloc.removeprefix("www.") or str(r["id"])
                out.append(Example(f"{r.get('title') or ''}\n\n{r['text']}".strip(), r["label"], site))
    return out


def babe_data(root: Path, *, dev_fraction: float = 0.2) -> tuple[list[Example], list[Example]]:
    """(train, dev) sentences: dev is a fixed slice of SG2; SG1 joins train; MBIC (crowd) is left out."""
    train: list[Example] = []
    dev: list[Example] = []
    with open(_need(root / "babe" / "babe.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for r in rows:
        if r["subset"] != "SG2" or r["label"] not in _BABE_LABELS:
            continue
        ex = Example(r["text"], r["label"], str(r.get("outlet") or ""))
        (dev if _hash_fraction(str(r["id"])) < dev_fraction else train).append(ex)
    held = {" ".join(e.text.split()).lower() for e in dev}
    for r in rows:
        sg1 = r["subset"] == "SG1" and r["label"] in _BABE_LABELS
        if sg1 and " ".join(r["text"].split()).lower() not in held:
            train.append(Example(r["text"], r["label"], str(r.get("outlet") or "")))
    return train, dev


_BABE_LABELS = BIAS_TASKS["loaded_language"].labels


@dataclass(frozen=True)
class TaskData:
    """How a bias task's data is read for fitting; its :class:`model.tasks.TaskSpec` says the rest.

    ``read(root, train_rows)`` gives (train, dev); dev is empty for a task scored by cross-validation.
    """

    read: Callable[[Path, int | None], tuple[list[Example], list[Example]]]
    #: Whether ``train_rows`` samples the training part (``--train-rows``, a retrain's cap).
    sampled: bool = False
    #: Whether training examples are weighted so that every outlet has the same total weight.
    outlet_weighted: bool = False


READERS: dict[str, TaskData] = {
    "leaning": TaskData(
        lambda root, rows: leaning_data(root, train_rows=rows), sampled=True, outlet_weighted=True
    ),
    "hyperpartisan": TaskData(lambda root, rows: (hyperpartisan_data(root), [])),
    "loaded_language": TaskData(lambda root, rows: babe_data(root)),
}
"""The data reader of each bias task in :data:`model.tasks.BIAS_TASKS`."""
assert set(READERS) == set(TASKS), "every bias task needs a data reader"


def _spec(task: str) -> TaskSpec:
    if task not in READERS:
        raise ConfigError(f"unknown bias task {task!r}", field="task", fix=f"use one of: {', '.join(TASKS)}")
    return BIAS_TASKS[task]


def features(
    predictor: StancePredictor, texts: Sequence[str], *, max_sentences: int, chunk: int = 256
) -> list[np.ndarray]:
    """Sentence features of each text, cached on disk by encoder, backend and content."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "replace"))
        h.update(b"\0")
    key = f"{predictor.encoder_hash}-{predictor.backend.name}-{max_sentences}-{h.hexdigest()[:16]}"
    path = cache_dir() / "features" / f"{key}.npz"
    if path.exists():
        with np.load(path) as z:
            flat, counts = z["flat"], z["counts"]
        return list(np.split(flat.astype(np.float32), np.cumsum(counts)[:-1])) if len(counts) else []
    out: list[np.ndarray] = []
    start = time.perf_counter()
    for i in range(0, len(texts), chunk):
        out += predictor.sentence_features(texts[i : i + chunk], max_sentences=max_sentences)
        if (i // chunk) % 10 == 0:
            log.info(
                "encoded %d/%d texts (%.0f s)",
                min(i + chunk, len(texts)),
                len(texts),
                time.perf_counter() - start,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = np.array([len(x) for x in out])
    flat = np.concatenate(out).astype(np.float16) if out else np.zeros((0, 1), np.float16)
    with atomic_path(path, suffix=".tmp.npz") as tmp:
        np.savez(tmp, flat=flat, counts=counts)
    # Return what the cache holds (fp16-rounded), so a fit gives the same head with or without a hit.
    return list(np.split(flat.astype(np.float32), np.cumsum(counts)[:-1])) if out else out


def outlet_weights(base: Sequence[Example], extra: int = 0) -> np.ndarray:
    """Sample weights that give every outlet the same total weight (mean 1), then 1 per extra example.

    Most outlets in Article-Bias-Prediction carry a single label and a few outlets supply most
    articles: unweighted, a head learns those outlets' style. Equal weight per outlet gains about
    3 macro-F1 points on the media split's unseen outlets.
    """
    from collections import Counter

    counts = Counter(e.group for e in base)
    w = np.array([1.0 / counts[e.group] for e in base])
    w = w / w.mean() if len(w) else w
    return np.concatenate([w, np.ones(extra)])


def _article_matrix(feats: list[np.ndarray], lead: int, hidden: int) -> np.ndarray:
    return text_features(feats, level="article", lead=lead, hidden=hidden)


def fit_linear(
    x: np.ndarray,
    y: Sequence[str],
    labels: list[str],
    *,
    c: float,
    balanced: bool,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weight, bias, mean, scale) of a standardised logistic regression, one row per label."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)
    clf.fit((x - mean) / scale, list(y), sample_weight=sample_weight)
    order = [list(clf.classes_).index(lab) for lab in labels if lab in clf.classes_]
    if len(order) != len(labels):
        raise ConfigError(
            f"the training labels {sorted(set(y))} do not cover {labels}", fix="add examples of every label"
        )
    if len(labels) == 2:  # sklearn keeps one row for two classes: logits (0, w.x + b) give the same softmax
        weight = np.stack([np.zeros_like(clf.coef_[0]), clf.coef_[0]])
        bias = np.array([0.0, clf.intercept_[0]])
        if list(clf.classes_) != labels:
            weight, bias = weight[::-1], bias[::-1]
    else:
        weight, bias = clf.coef_[order], clf.intercept_[order]
    return weight, bias, mean, scale


def classification_report(
    gold: Sequence[str], probs: np.ndarray, labels: list[str], *, present_only: bool = False
) -> dict[str, Any]:
    """Macro-F1 and accuracy (percent), per-class F1, confusion matrix; binary ones add ROC AUC
    (percent, when both classes occur) and the Brier score of the second label's probability.

    ``present_only`` averages macro-F1 over the labels that occur in ``gold`` (as the stance
    metrics do), for small slices such as held-back new labels that may lack a class.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

    pred = [labels[i] for i in probs.argmax(axis=1)]
    averaged = [lab for lab in labels if lab in set(gold)] if present_only else labels
    out: dict[str, Any] = {
        "n": len(gold),
        "macro_f1": round(
            100 * f1_score(gold, pred, labels=averaged or labels, average="macro", zero_division=0), 2
        ),
        "accuracy": round(100 * accuracy_score(gold, pred), 2),
        "f1_per_class": {
            lab: round(100 * v, 2)
            for lab, v in zip(
                labels, f1_score(gold, pred, labels=labels, average=None, zero_division=0), strict=True
            )
        },
        "confusion": {"labels": labels, "matrix": confusion_matrix(gold, pred, labels=labels).tolist()},
        "gold_counts": {lab: int(sum(g == lab for g in gold)) for lab in labels},
        "ece": round(
            expected_calibration_error(
                probs, np.array([labels.index(g) if g in labels else -1 for g in gold])
            ),
            4,
        ),
    }
    if len(labels) == 2 and len(set(gold)) == 2:
        out["roc_auc"] = round(100 * roc_auc_score([g == labels[1] for g in gold], probs[:, 1]), 2)
    if len(labels) == 2 and len(gold):
        truth = np.array([g == labels[1] for g in gold], dtype=np.float64)
        out["brier"] = round(float(np.mean((probs[:, 1] - truth) ** 2)), 4)
    return out


@dataclass
class FitResult:
    head: BiasHead
    report: dict[str, Any]


def fit_head(
    predictor: StancePredictor,
    task: str,
    *,
    data_root: str | Path = "../shared/data",
    train_rows: int | None = None,
    extra: Sequence[Example] = (),
    c_grid: Sequence[float] = C_GRID,
    progress: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit the ``task`` head on ``predictor``'s encoder; ``extra`` examples (new labels) join training.

    C (and class balancing) is picked on the dev part; the head is then refitted on train (and,
    for hyperpartisan's cross-validation, on everything).
    """
    spec, data = _spec(task), READERS[task]
    say = progress or log.info
    start = time.perf_counter()
    train, dev = data.read(Path(data_root), train_rows)
    train = [*train, *extra]
    say(f"{task}: {len(train)} train / {len(dev)} dev {spec.level}s")
    matrices = _candidate_matrices(predictor, spec, train, dev)
    encode_s = time.perf_counter() - start
    yt = [e.label for e in train]
    weights = outlet_weights(train[: len(train) - len(extra)], len(extra)) if data.outlet_weighted else None
    lead, c, balanced, rep = _select(matrices, yt, dev, list(spec.labels), c_grid, weights, train, say)
    xt, xd = matrices[lead]
    labels = list(spec.labels)
    w, b, m, s = fit_linear(xt, yt, labels, c=c, balanced=balanced, sample_weight=weights)
    temperature = 1.0
    if xd is not None:
        # Calibration: a weak head must not speak with confidence. One temperature, fitted on dev by
        # log-loss and folded into the weights; argmax (so macro-F1 and accuracy) is unchanged.
        temperature = fit_temperature(((xd - m) / s) @ w.T + b, [labels.index(e.label) for e in dev])
        w, b = w / temperature, b / temperature
        rep = classification_report([e.label for e in dev], linear_probabilities(xd, w, b, m, s), labels)
        say(f"  temperature {temperature:.2f} (fitted on dev)")
    head = BiasHead(
        task=task,
        level=spec.level,  # type: ignore[arg-type]
        labels=labels,
        weight=w.astype(np.float32),
        bias=b.astype(np.float32),
        mean=m.astype(np.float32),
        scale=s.astype(np.float32),
        encoder=predictor.encoder_hash,
        positive=spec.positive,
        lead_sentences=lead,
        licence=spec.licence,
        info={
            "c": c,
            "class_weight": "balanced" if balanced else None,
            "sample_weight": "equal total weight per outlet" if weights is not None else None,
            "temperature": round(temperature, 3),
            "train_examples": len(train),
            "extra_examples": len(extra),
            "dev": {"how": spec.dev, **rep},
            "features_backend": predictor.backend.name,
            "fitted_on": {"model": predictor.name, "version": predictor.version},
            "seconds": {"encode": round(encode_s, 1), "total": round(time.perf_counter() - start, 1)},
        },
    )
    return FitResult(head, rep)


def _candidate_matrices(
    predictor: StancePredictor, spec: TaskSpec, train: list[Example], dev: list[Example]
) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """(train, dev or None) feature matrices by the number of lead sentences an article vector averages."""
    hidden = int(predictor.model.config.hidden_size)
    if spec.level == "sentence":
        # A sentence example's features are its first (only) sentence's.
        xs = _sentence_matrix(predictor, [e.text for e in train], hidden)
        return {1: (xs, _sentence_matrix(predictor, [e.text for e in dev], hidden))}
    ft = features(predictor, [e.text for e in train], max_sentences=LEAD_SENTENCES)
    fd = features(predictor, [e.text for e in dev], max_sentences=LEAD_SENTENCES) if dev else []
    # How many sentences from the top the article vector averages is picked on dev too.
    return {
        lead: (_article_matrix(ft, lead, hidden), _article_matrix(fd, lead, hidden) if dev else None)
        for lead in LEAD_GRID
    }


def _select(
    matrices: dict[int, tuple[np.ndarray, np.ndarray | None]],
    yt: list[str],
    dev: list[Example],
    labels: list[str],
    c_grid: Sequence[float],
    weights: np.ndarray | None,
    train: list[Example],
    say: Callable[[str], None],
) -> tuple[int, float, bool, dict[str, Any]]:
    """(lead, C, balanced, dev report) of the best dev macro-F1 (cross-validated without a dev split)."""
    best: tuple[float, int, float, bool, dict[str, Any]] | None = None
    for lead, (xt, xd) in matrices.items():
        for c in c_grid:
            for balanced in (False, True):
                if xd is not None:
                    w, b, m, s = fit_linear(xt, yt, labels, c=c, balanced=balanced, sample_weight=weights)
                    probs = linear_probabilities(xd, w, b, m, s)
                    rep = classification_report([e.label for e in dev], probs, labels)
                else:
                    groups = [e.group for e in train]
                    rep = _cross_validate(xt, yt, labels, c=c, balanced=balanced, groups=groups)
                say(f"  lead={lead} C={c} balanced={balanced}: dev macro-F1 {rep['macro_f1']}")
                if best is None or rep["macro_f1"] > best[0]:
                    best = (rep["macro_f1"], lead, c, balanced, rep)
    if best is None:
        raise ConfigError("no C value to try", field="c_grid", fix="give at least one")
    return best[1:]


def _sentence_matrix(predictor: StancePredictor, texts: list[str], hidden: int) -> np.ndarray:
    feats = features(predictor, texts, max_sentences=MAX_SENTENCES)
    return text_features(feats, level="sentence", lead=1, hidden=hidden)


def fit_temperature(logits: np.ndarray, gold: Sequence[int]) -> float:
    """The temperature (0.25 to 20) that minimises the log-loss of ``softmax(logits / T)`` on ``gold``."""
    z = np.asarray(logits, dtype=np.float64)
    idx = np.asarray(gold)
    best_t, best = 1.0, np.inf
    for t in np.geomspace(0.25, 20.0, 81):
        zt = z / t
        zt = zt - zt.max(axis=1, keepdims=True)
        nll = float(-(zt[np.arange(len(idx)), idx] - np.log(np.exp(zt).sum(axis=1))).mean())
        if nll < best:
            best_t, best = float(t), nll
    return best_t


def _cross_validate(
    x: np.ndarray, y: list[str], labels: list[str], *, c: float, balanced: bool, groups: list[str]
) -> dict[str, Any]:
    probs = np.zeros((len(y), len(labels)))
    for tr, te in _folds(y, groups):
        w, b, m, s = fit_linear(x[tr], [y[i] for i in tr], labels, c=c, balanced=balanced)
        probs[te] = linear_probabilities(x[te], w, b, m, s)
    return classification_report(y, probs, labels)


# -- applying, scoring and writing heads ---------------------------------------------------------


def check_data(
    task: str, root: str | Path, *, fix: str = "point --data-root at the shared data folder"
) -> None:
    """Fail early, before any encoding, when ``root`` lacks the files the ``task`` head is fitted on."""
    missing = [f for f in BIAS_TASKS[task].data_files if not (Path(root) / f).exists()]
    if missing:
        raise ConfigError(
            f"the {task} head is fitted on {', '.join(missing)} under {root}, which is not there",
            fix=f"{fix} (../shared/data)",
        )


def head_probabilities(predictor: StancePredictor, head: BiasHead, texts: Sequence[str]) -> np.ndarray:
    """(texts, labels) probabilities of ``head`` for whole texts, from cached sentence features.

    The same numbers as :meth:`StancePredictor.analyze` gives (an article head reads the mean of
    the first ``lead_sentences`` sentences); a sentence head pools each text's sentences as one.
    """
    hidden = int(predictor.model.config.hidden_size)
    feats = features(predictor, list(texts), max_sentences=head.sentences_read)
    return head.probabilities(text_features(feats, level=head.level, lead=head.lead_sentences, hidden=hidden))


def served_probabilities(
    predictor: StancePredictor, head: str | BiasHead, texts: Sequence[str]
) -> tuple[np.ndarray, int]:
    """(texts, labels) probabilities of a head as the predictor scores whole texts
    (:meth:`StancePredictor.head_probabilities`), and how many texts had no prose to read (those
    get uniform probabilities)."""
    probs = predictor.head_probabilities(texts, head)
    empty = np.isnan(probs).any(axis=1)
    probs[empty] = 1.0 / probs.shape[1]
    return probs, int(empty.sum())


def dev_report(
    predictor: StancePredictor,
    head: BiasHead,
    *,
    data_root: str | Path = "../shared/data",
    extra: Sequence[Example] = (),
    leave_out: Collection[str] = (),
) -> dict[str, Any]:
    """``head`` scored on its task's fixed dev data, through ``predictor``'s encoder.

    Leaning and loaded language: the held-out dev split. Hyperpartisan has none: 5-fold site-grouped
    cross-validation of the head's recipe (its C and class weighting) on the training articles,
    with ``extra`` examples added to every training fold and only the articles scored, so a head
    refitted with new labels and the head it replaces are judged on the same rows.

    Dev rows (or cross-validated articles) whose text is one of ``leave_out`` (a retrain's
    trained-on labels) are not scored; ``left_out`` in the report counts them.
    """
    from .store.store import text_sha256

    root = Path(data_root)
    labels = head.labels
    spec = _spec(head.task)
    skip = {text_sha256(t) for t in leave_out}
    if spec.dev == CROSS_VALIDATED:
        everything = READERS[head.task].read(root, None)[0]
        base = [e for e in everything if text_sha256(e.text) not in skip]
        hidden = int(predictor.model.config.hidden_size)
        lead = head.lead_sentences
        x = _article_matrix(features(predictor, [e.text for e in base], max_sentences=lead), lead, hidden)
        ex = (
            _article_matrix(features(predictor, [e.text for e in extra], max_sentences=lead), lead, hidden)
            if extra
            else np.zeros((0, hidden), np.float32)
        )
        y = [e.label for e in base]
        balanced = head.info.get("class_weight") == "balanced"
        c = float(head.info.get("c", 1.0))
        probs = np.zeros((len(y), len(labels)))
        folds = _folds(y, [e.group for e in base])
        for tr, te in folds:
            w, b, m, s = fit_linear(
                np.concatenate([x[tr], ex]),
                [y[i] for i in tr] + [e.label for e in extra],
                labels,
                c=c,
                balanced=balanced,
            )
            probs[te] = linear_probabilities(x[te], w, b, m, s)
        report = classification_report(y, probs, labels)
        return {"how": spec.dev, **report, "left_out": len(everything) - len(base)}
    everything = READERS[head.task].read(root, 0)[1]
    dev = [e for e in everything if text_sha256(e.text) not in skip]
    probs = head_probabilities(predictor, head, [e.text for e in dev])
    report = classification_report([e.label for e in dev], probs, labels)
    return {"how": spec.dev, **report, "left_out": len(everything) - len(dev)}


def _folds(y: list[str], groups: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Five stratified folds that keep each group (a web site) whole."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    return list(folds.split(np.zeros((len(y), 1)), y, groups))


def stored_examples(database: str | None, task: str) -> list[Example]:
    """The label store's current labels of a bias ``task`` as training examples."""
    from .store import LabelStore

    with LabelStore.open(database) as store:
        return [Example(r["text"], r["label"], "labels") for r in store.training_rows(task=task)]


def head_card(head: BiasHead, *, command: str = "", note: str = "") -> str:
    """The README.md written next to ``head.json``: task, data, licence, dev metrics, command."""
    dev = dict(head.info.get("dev") or {})
    data = BIAS_TASKS[head.task].data if head.task in BIAS_TASKS else "-"
    lines = [
        f"# Bias head: {head.task}",
        "",
        f"A linear head ({head.level} level, labels `{'`, `'.join(head.labels)}`) over mean-pooled "
        f"sentence embeddings of the stance model's encoder (weights hash `{head.encoder}`); "
        + (
            f"an article is read as the mean of its first {head.lead_sentences} sentences."
            if head.level == "article"
            else f"each sentence is scored; flagged at probability {head.threshold:g} or more."
        ),
        "",
        f"- Data: {data}; {head.info.get('train_examples', '?')} training examples, "
        f"{head.info.get('extra_examples', 0)} of them from the label store.",
        f"- Licence of the training data: {head.licence or '-'}.",
        f"- Fitted on: {(head.info.get('fitted_on') or {}).get('model', '?')} version "
        f"{(head.info.get('fitted_on') or {}).get('version', '?')}, features from the "
        f"`{head.info.get('features_backend', '?')}` backend; C = {head.info.get('c')}, class weight "
        f"{head.info.get('class_weight') or 'none'}"
        + (f", sample weight: {head.info['sample_weight']}" if head.info.get("sample_weight") else "")
        + ".",
    ]
    if command:
        lines.append(f"- Command: `{command}`")
    lines += ["", f"## Dev results ({dev.get('how', '-')})", ""]
    lines += ["| rows | macro-F1 | accuracy | " + " | ".join(f"F1 {lab}" for lab in head.labels) + " |"]
    lines += ["|---|---|---|" + "---|" * len(head.labels)]
    per = dev.get("f1_per_class") or {}
    lines.append(
        f"| {dev.get('n', '-')} | {dev.get('macro_f1', '-')} | {dev.get('accuracy', '-')} | "
        + " | ".join(str(per.get(lab, "-")) for lab in head.labels)
        + " |"
    )
    if "roc_auc" in dev or "brier" in dev:
        lines += ["", f"ROC AUC {dev.get('roc_auc', '-')}, Brier {dev.get('brier', '-')}."]
    if "ece" in dev:
        lines += [
            "",
            f"Expected calibration error {dev['ece']}"
            + (
                f" after a temperature of {head.info['temperature']} fitted on this dev set (argmax, "
                "so F1 and accuracy, unchanged; the calibration figure is therefore optimistic)."
                if head.info.get("temperature", 1.0) != 1.0
                else "."
            ),
        ]
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def write_head_dir(head: BiasHead, out: str | Path, *, card: str) -> Path:
    """Write the head and its card into ``out`` as a whole: a temp directory, then a rename.

    The temp directory is not made inside a model's ``bias/`` folder, where a half-written head
    would be picked up by a loader.
    """
    import shutil
    import tempfile
    import uuid

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.parent.parent if out.parent.name == HEADS_DIR else out.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=scratch))
    try:
        head.save(tmp)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        old = out.with_name(f".{out.name}-old-{uuid.uuid4().hex[:8]}") if out.exists() else None
        if old is not None:
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def fit_bias(
    *,
    model: str | Path,
    task: str,
    out: str | Path | None = None,
    data_root: str | Path = "../shared/data",
    train_rows: int | None = None,
    labels_db: str | None = None,
    backend: str = "torch",
    command: str = "",
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, FitResult]:
    """``slant fit-bias``: fit the ``task`` head on ``model``'s encoder and write it with its card.

    Leaning and hyperpartisan heads go to ``<model>/bias/<task>`` by default; the loaded-language
    head needs ``out`` outside the model directory (its BABE training data is AGPL-3.0).
    ``labels_db`` adds the label store's current labels of ``task`` to the training data.

    >>> path, fit = fit_bias(model="models/default", task="leaning", train_rows=4000)  # doctest: +SKIP
    """
    spec = _spec(task)
    say = progress or log.info
    out = _head_dir(spec, Path(model), out)
    # No heads: a model directory may carry heads of an older encoder, which would refuse to load.
    predictor = StancePredictor.load(model, with_heads=False, backend=backend)
    extra = stored_examples(labels_db, task) if labels_db is not None else []
    if labels_db is not None:
        say(f"{len(extra)} {task} labels from the label store")
    fit = fit_head(predictor, task, data_root=data_root, train_rows=train_rows, extra=extra, progress=say)
    note = ""
    if spec.kept_apart:
        note = (
            f"Licence note: this head was fitted on {spec.source}, which is {spec.licence_id}. Keep it in "
            f"its own directory and check what the {spec.licence_id.split('-')[0]} asks of you before "
            "serving it (add it with SLANT_HEADS)."
        )
    path = write_head_dir(fit.head, out, card=head_card(fit.head, command=command, note=note))
    return path, fit


def _head_dir(spec: TaskSpec, model_dir: Path, out: str | Path | None) -> Path:
    """Where a fitted head goes: ``out``, or ``<model>/bias/<task>`` unless the task is kept apart."""
    if out is None:
        if spec.kept_apart:
            raise ConfigError(
                f"the {spec.title} head needs an explicit --out: its training data ({spec.source}) is "
                f"{spec.licence_id}, so it is kept out of model directories",
                field="--out",
                fix=f"e.g. --out {spec.own_dir}, then serve it with SLANT_HEADS={spec.own_dir}",
            )
        if not model_dir.is_dir():
            raise ConfigError(
                f"{model_dir} is not a local model directory, so the head has no default place",
                field="--out",
                fix="pass --out DIR",
            )
        return model_dir / HEADS_DIR / spec.name
    out = Path(out)
    if spec.kept_apart and model_dir.is_dir() and _inside(out, model_dir):
        raise ConfigError(
            f"--out {out} is inside the model directory {model_dir}; the {spec.title} head's training "
            f"data is {spec.licence_id} and is kept out of model directories",
            field="--out",
            fix=f"write it to its own directory, e.g. --out {spec.own_dir}",
        )
    return out


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True
