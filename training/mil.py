"""Article labels through their windows: multiple-instance selection of the windows that carry the label.

A label on a whole article (what a user corrects on the review page) is the author's stance toward
the actor over the article; most of the article's mention windows do not take that side on their
own. Giving every window the article's label (``all``) teaches the classifier that calm windows of
a favourable article mean ``favor``; the retrain on PerSenT's article labels showed it (the gate
rejected it, with the article-length contrast items falling from 69 to 33).

``top`` reads each article as a bag of windows under the usual multiple-instance assumption: an
article that takes a side has at least one window that takes it, and a neutral article has none.
So a ``favor`` or ``against`` article trains on the ``k`` windows the model it starts from finds
most in favour of that label (the label's probability), and a ``neutral`` article on all of its
windows. The windows are the predictor's own (:meth:`model.windows.WindowBuilder.examples`); only
which of them carry the label changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from model.labels import STANCE_LABELS

#: The field a row carries into its windows when it is a bag (an article label): its bag number.
BAG = "_bag"

Scorer = Callable[[Sequence[str], Sequence[str]], np.ndarray]
"""(targets, window texts) -> probabilities, one row per window, columns in STANCE_LABELS order."""


def select_windows(windows: list[dict[str, Any]], score: Scorer, *, top_k: int = 2) -> list[dict[str, Any]]:
    """The training windows, with each sided bag cut to its ``top_k`` most label-like windows.

    Windows without a bag number, and bags of one window (a short text), pass through. The order
    of what is kept is the input order; the bag number is dropped.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    bags: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        if w.get(BAG) is not None:
            bags.setdefault(int(w[BAG]), []).append(i)
    sided = [ix for ix in bags.values() if len(ix) > top_k and windows[ix[0]]["label"] != "neutral"]
    drop: set[int] = set()
    if sided:
        # A label repeated for its share of the epoch is one bag per copy; each window is scored once.
        flat = [i for ix in sided for i in ix]
        pairs = list(dict.fromkeys((windows[i]["target"], windows[i]["text"]) for i in flat))
        probs = score([t for t, _ in pairs], [x for _, x in pairs])
        row_of = {pair: n for n, pair in enumerate(pairs)}
        p_of = {}
        for i in flat:
            w = windows[i]
            p_of[i] = float(probs[row_of[w["target"], w["text"]], STANCE_LABELS.index(w["label"])])
        for ix in sided:
            ranked = sorted(ix, key=lambda i: -p_of[i])
            drop.update(ranked[top_k:])
    return [{k: v for k, v in w.items() if k != BAG} for i, w in enumerate(windows) if i not in drop]


def model_scorer(model: Any, tokenizer: Any, *, max_length: int, batch_size: int = 32) -> Scorer:
    """A :data:`Scorer` from a sequence-classification model and its tokenizer (the model a fine-tune
    starts from: its judgement picks the windows, before any step is taken)."""
    import torch

    def score(targets: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        was_training = model.training
        model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), batch_size):
                enc = tokenizer(
                    list(targets[s : s + batch_size]),
                    list(texts[s : s + batch_size]),
                    truncation="only_second",
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                )
                enc = {k: v.to(model.device) for k, v in enc.items()}
                out.append(torch.softmax(model(**enc).logits.float(), dim=-1).cpu().numpy())
        model.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, len(STANCE_LABELS)))

    return score
