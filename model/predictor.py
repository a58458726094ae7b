"""The stance predictor: one class owns loading, cleaning, windowing, batching and aggregation.

Flow for one text: mask boilerplate -> spaCy sentences and entities -> mentions of each actor
(given, or discovered) -> one window per mention sentence (with the sentence before it as
context) -> one length-sorted batched forward pass over every window of every actor of every
text -> per-actor aggregation -> result with evidence sentences and their offsets.

A text that fits in one window (a tweet, a sentence, a short paragraph) is scored whole, the
way the classifier was trained.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .actors import Actor, Mention, parse_actors
from .aggregate import Aggregator, aggregator_from_json
from .backends import Backend, default_backend, make_backend, onnx_cache_dir, resolve_backend, weights_hash
from .bias import (
    MAX_SENTENCES,
    SENTENCE_TOKENS,
    BiasHead,
    article_features,
    default_heads,
    load_heads,
    mean_pool,
    text_features,
)
from .errors import InvalidInputError, ModelLoadError
from .linking import parse_year, rank
from .loading import ModelMeta, load_classifier
from .numeric import softmax
from .text import analyse, analyse_many, check_text, clean, sentences
from .types import ActorStance, Analysis, Bias, Evidence, FlaggedSentence, Leaning, LoadedLanguage
from .windows import Plan, Window, WindowBuilder, token_fits

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
MAX_TEXTS = 10_000


def default_model_path() -> str:
    """``$SLANT_MODEL`` if set, else the model shipped in ``models/default``."""
    return os.environ.get("SLANT_MODEL") or str(DEFAULT_MODEL_DIR)


class StancePredictor:
    """Stance of texts toward named actors.

    >>> p = StancePredictor.load()                                    # doctest: +SKIP
    >>> [r.label for r in p.predict(["Sanders is right."], ["Bernie Sanders"])[0]]  # doctest: +SKIP
    ['favor']
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        meta: ModelMeta,
        *,
        device: str | None = None,
        batch_size: int | None = None,
        max_windows: int | None = None,
        backend: str | None = None,
        onnx_dir: str | Path | None = None,
    ) -> None:
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        name = resolve_backend(backend or default_backend(), self.device)
        where = Path(onnx_dir) if onnx_dir else None
        if where is None and name != "torch":
            # The ONNX cache is keyed by the weights hash that bias heads also check: hash once.
            where = onnx_cache_dir(self.encoder_hash)
        self.backend: Backend = make_backend(name, self.model, tokenizer, self.device, onnx_dir=where)
        self.tokenizer = tokenizer
        self.meta = meta
        self.labels = list(meta.labels)
        #: Sequences per forward call. On a CPU, batches of 16 run about 8% faster than 32 (less
        #: padding per length-sorted batch; measured with ONNX Runtime int8 on 2 cores); a GPU
        #: wants bigger ones.
        self.batch_size = batch_size or (16 if self.backend.name in ("onnx", "onnx-int8") else 32)
        self.max_length = int(meta.max_length)
        agg_cfg = (meta.training_config or {}).get("aggregator") or {}
        self.max_windows = max_windows or int(agg_cfg.get("max_windows", 16))
        self.aggregator: Aggregator = aggregator_from_json(meta.aggregator)
        self._fits = token_fits(tokenizer, self.max_length)
        #: The one window builder, in the format the model was trained on (``slant.json``).
        self.windows = WindowBuilder(
            self._fits_one_window, max_windows=self.max_windows, fmt=meta.window_format
        )
        #: Softmax temperature fitted on dev data (``slant.json`` ``calibration``); 1.0: logits as they are.
        self.temperature = float((meta.calibration or {}).get("temperature", 1.0))
        #: Bias heads by task (see :mod:`model.bias`); empty when the model carries none.
        self.heads: dict[str, BiasHead] = {}
        #: Why extra heads were left out (``skip_stale_heads``): fitted on another encoder.
        self.skipped_heads: list[str] = []

    @classmethod
    def load(
        cls,
        name_or_path: str | Path | None = None,
        *,
        heads: Sequence[str | Path] | None = None,
        skip_stale_heads: bool = False,
        with_heads: bool = True,
        **kwargs: Any,
    ) -> StancePredictor:
        """Load a slant model directory, a Hugging Face folder or a hub id (default: shipped model).

        ``backend`` picks where the forward pass runs (``auto``, ``torch``, ``onnx``, ``onnx-int8``;
        default ``$SLANT_BACKEND`` or ``auto``; see :mod:`model.backends`). The bias heads in the
        model directory's ``bias/`` are loaded, plus the extra head directories in ``heads``
        (default ``$SLANT_HEADS``); with ``skip_stale_heads``, an extra head fitted on another
        encoder is left out (and listed in ``skipped_heads``) instead of failing the load.
        ``with_heads=False`` loads no bias heads at all, neither the model's own nor extra ones: what
        fitting heads and retraining want, since a model directory may carry heads of an older
        encoder, which refuse to load. Other keyword arguments go to the constructor.
        """
        source = name_or_path or default_model_path()
        model, tokenizer, meta = load_classifier(source)
        predictor = cls(model, tokenizer, meta, **kwargs)
        if not with_heads:
            return predictor
        predictor.add_heads(
            source if Path(source).is_dir() else None,
            default_heads() if heads is None else heads,
            skip_stale=skip_stale_heads,
        )
        return predictor

    def add_heads(
        self, model_dir: str | Path | None, extra: Sequence[str | Path] = (), *, skip_stale: bool = False
    ) -> None:
        """Load the bias heads of ``model_dir`` (``bias/*``) and the ``extra`` head directories."""
        found = load_heads(
            model_dir, extra, encoder=self.encoder_hash, skip_stale=skip_stale, skipped=self.skipped_heads
        )
        self.heads = {**self.heads, **found}

    @cached_property
    def encoder_hash(self) -> str:
        """A hash of the weights: bias heads record it, and only load on the encoder they were fitted on."""
        return weights_hash(self.model)

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def version(self) -> str:
        return self.meta.version

    # -- public API ---------------------------------------------------------------------------

    def predict(
        self,
        texts: Sequence[str | bytes],
        actors: Sequence[Any] | None = None,
        *,
        per_text_actors: Sequence[Sequence[Any] | None] | None = None,
        dates: Sequence[str | int | datetime.date | None] | None = None,
        discover_limit: int = 5,
        evidence: int = 3,
        score_unmentioned: bool = False,
    ) -> list[list[ActorStance]]:
        """Stance of each text toward each actor.

        ``actors`` applies to every text; ``per_text_actors`` gives each text its own list
        (None entries discover). With neither, the actors each text is about are discovered.
        Actors are names (``"DNC"``), ``{"name": ..., "aliases": [...]}``, or :class:`Actor` objects
        that :func:`~model.actors.parse_actors` returned, which are taken as they are (the service
        validates a request once, in its routes, and hands the parsed actors over).

        ``dates`` gives each text's publication date (or None), one per text: an ISO date or date
        and time string, a year (``"2016"``, ``2016``) or a :class:`datetime.date`
        (:func:`~model.linking.parse_year`). Its year decides which time-bound titles ("the
        Speaker") refer to whom; without it, the year is the one the text names most.
        """
        found = self.analyze(
            texts,
            actors,
            per_text_actors=per_text_actors,
            dates=dates,
            discover_limit=discover_limit,
            evidence=evidence,
            score_unmentioned=score_unmentioned,
            bias=False,
        )
        return [a.stance for a in found]

    def analyze(
        self,
        texts: Sequence[str | bytes],
        actors: Sequence[Any] | None = None,
        *,
        per_text_actors: Sequence[Sequence[Any] | None] | None = None,
        dates: Sequence[str | int | datetime.date | None] | None = None,
        discover_limit: int = 5,
        evidence: int = 3,
        score_unmentioned: bool = False,
        bias: bool | Sequence[bool] = True,
        stance: bool = True,
    ) -> list[Analysis]:
        """Stance toward each actor and, with ``bias`` and bias heads loaded, each text's bias.

        Arguments are those of :meth:`predict`. The bias heads' sentences go through the same
        length-sorted batched forward pass as the stance windows. ``Analysis.bias`` is None when
        ``bias`` is False or the model has no bias heads. ``bias`` may also be one flag per text
        (the service's micro-batcher mixes texts that want bias with texts that do not).
        ``stance=False`` reads the bias heads only: no actors are looked for or scored, and
        ``Analysis.stance`` is empty.

        >>> a = StancePredictor.load().analyze(["Sanders is right."], ["Bernie Sanders"])[0]  # doctest: +SKIP
        >>> a.stance[0].label, a.bias.leaning.label                                         # doctest: +SKIP
        ('favor', 'left')
        """
        wanted = _check_call(texts, actors, per_text_actors, bias, stance)
        years = _years(len(texts), dates)
        given = parse_actors(list(actors)) if actors is not None else None
        checked = [check_text(t, field=f"texts[{i}]") for i, t in enumerate(texts)]
        specs = _actor_specs(len(checked), given, per_text_actors) if stance else [[] for _ in checked]
        cleaned = [clean(t) for t in checked]
        docs = analyse_many(cleaned, entities=any(s is None for s in specs))
        plans = [
            self._plan(text, spec, discover_limit, score_unmentioned, c, d, year=y)
            for text, spec, c, d, y in zip(checked, specs, cleaned, docs, years, strict=True)
        ]
        with_bias = [w and bool(self.heads) for w in wanted]
        if any(with_bias):
            n = self._bias_sentence_count()
            for plan, w in zip(plans, with_bias, strict=True):
                if w:
                    plan.bias_sentences = plan.sentences[:n]
        return self._score(plans, with_bias, evidence)

    def _score(self, plans: list[Plan], with_bias: list[bool], n_evidence: int) -> list[Analysis]:
        """One forward pass over every plan's windows and bias sentences, then each text's result."""
        flat = [(p, w) for p in plans for w in p.windows]
        singles = [" ".join(s.text.split()) for p in plans for s in p.bias_sentences]
        probs, feats = self._forward(
            [p.actors[w.actor].name for p, w in flat], [w.text for _, w in flat], singles
        )
        out, k, j = [], 0, 0
        for plan, w in zip(plans, with_bias, strict=True):
            n, m = len(plan.windows), len(plan.bias_sentences)
            found = self._finish(plan, probs[k : k + n], n_evidence)
            out.append(Analysis(found, self._bias(plan, feats[j : j + m]) if w else None))
            k, j = k + n, j + m
        return out

    def sentence_features(
        self, texts: Sequence[str], *, max_sentences: int = MAX_SENTENCES
    ) -> list[np.ndarray]:
        """Pooled encoder features of each text's first ``max_sentences`` sentences: (sentences, hidden).

        The features the bias heads read; ``slant fit-bias`` fits heads on them.
        """
        checked = [check_text(t, field=f"texts[{i}]") for i, t in enumerate(texts)]
        docs = analyse_many([clean(t) for t in checked], entities=False)
        per_text = [[" ".join(s.text.split()) for s in sentences(d)][:max_sentences] for d in docs]
        _, feats = self._forward([], [], [s for ss in per_text for s in ss])
        out, j = [], 0
        for ss in per_text:
            out.append(feats[j : j + len(ss)])
            j += len(ss)
        return out

    def head_probabilities(self, texts: Sequence[str], head: str | BiasHead) -> np.ndarray:
        """(texts, labels) probabilities of one bias head for whole texts; NaN rows for texts with
        no sentence to read (``analyze`` gives those no bias).

        ``head`` names a loaded head, or is a head fitted on this encoder (a candidate being judged).
        An article head reads the mean of the first ``lead_sentences`` sentences, as ``analyze``
        does; a sentence head reads each text as one unit (its sentences pooled), as it was fitted
        on labelled sentences.

        >>> StancePredictor.load().head_probabilities(["An article."], "leaning")  # doctest: +SKIP
        """
        found = self.heads.get(head) if isinstance(head, str) else head
        if found is None:
            raise InvalidInputError(
                f"the model ({self.name} {self.version}) has no {head} head",
                field="head",
                fix=f"use one of: {', '.join(self.heads) or '(none loaded)'}",
            )
        if found.encoder != self.encoder_hash:
            raise ModelLoadError(
                f"the {found.task} head was fitted on encoder {found.encoder}, but this model's is "
                f"{self.encoder_hash}",
                field="heads",
                fix="refit the head on this model with `slant fit-bias --model <model dir>`",
            )
        feats = self.sentence_features(texts, max_sentences=found.sentences_read)
        hidden = int(getattr(self.model.config, "hidden_size", 0))
        x = text_features(feats, level=found.level, lead=found.lead_sentences, hidden=hidden)
        probs: np.ndarray = found.probabilities(x).astype(np.float64)
        probs[[len(f) == 0 for f in feats]] = np.nan
        return probs

    def _bias_sentence_count(self) -> int:
        if any(h.level == "sentence" for h in self.heads.values()):
            return MAX_SENTENCES
        return max(h.lead_sentences for h in self.heads.values())

    def _bias(self, plan: Plan, feats: np.ndarray) -> Bias:
        out = Bias(sentences=len(feats))
        if not len(feats):
            return out
        for head in self.heads.values():
            if head.level == "sentence":
                scores = head.score(feats)
                flagged = [
                    FlaggedSentence(plan.text[s.start : s.end], s.start, s.end, round(float(p), 4))
                    for s, p in zip(plan.bias_sentences, scores, strict=True)
                    if p >= head.threshold
                ]
                out.loaded_language = LoadedLanguage(flagged, len(feats), head.threshold)
                continue
            x = article_features(feats, head.lead_sentences)[None, :]
            if head.task == "hyperpartisan":
                out.hyperpartisan = round(float(head.score(x)[0]), 4)
            else:
                p = head.probabilities(x)[0]
                out.leaning = Leaning(
                    head.labels[int(np.argmax(p))],
                    {lab: round(float(v), 4) for lab, v in zip(head.labels, p, strict=True)},
                )
        return out

    def window_probabilities(self, text: str, actor: Any) -> tuple[np.ndarray, bool]:
        """(windows x labels) probabilities for one actor in one text, and whether it was short.

        Used to fit the article aggregator; unmentioned actors are scored on the lead.
        """
        text = check_text(text)
        cleaned = clean(text)
        plan = self._plan(text, parse_actors([actor]), 1, True, cleaned, analyse(cleaned, entities=False))
        targets = [plan.actors[w.actor].name for w in plan.windows]
        return self.score_pairs(targets, [w.text for w in plan.windows]), plan.short

    def score_pairs(self, targets: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Probabilities for (target, text) pairs: one length-sorted, batched pass, order kept."""
        return self._forward(targets, texts, [])[0]

    def _forward(
        self, targets: Sequence[str], texts: Sequence[str], singles: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """One length-sorted, batched pass over (target, text) pairs and single sentences.

        Returns the pairs' label probabilities and the sentences' mean-pooled features, each in
        input order. A batch asks the backend for hidden states only when it holds a sentence.
        """
        hidden_size = int(getattr(self.model.config, "hidden_size", 0))
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        feats = np.zeros((len(singles), hidden_size), dtype=np.float32)
        if not texts and not singles:
            return probs, feats
        rows: list[dict[str, list[int]]] = []
        if texts:
            enc = self.tokenizer(
                list(targets), list(texts), truncation="only_second", max_length=self.max_length
            )
            rows += [{k: enc[k][i] for k in enc} for i in range(len(texts))]
        if singles:
            enc = self.tokenizer(list(singles), truncation=True, max_length=SENTENCE_TOKENS)
            rows += [{k: enc[k][i] for k in enc} for i in range(len(singles))]
        n_pairs = len(texts)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch = self.tokenizer.pad(
                {k: [rows[i][k] for i in idx] for k in rows[idx[0]]}, return_tensors="np"
            )
            arrays = {k: np.asarray(v) for k, v in batch.items()}
            if any(i >= n_pairs for i in idx):
                logits, hidden = self.backend.both(arrays)
                pooled = mean_pool(hidden, arrays["attention_mask"])
                for r, i in enumerate(idx):
                    if i >= n_pairs:
                        feats[i - n_pairs] = pooled[r]
            else:
                logits = self.backend.logits(arrays)
            pairs = [r for r, i in enumerate(idx) if i < n_pairs]
            if pairs:
                z = logits[pairs].astype(np.float64) / self.temperature
                probs[[idx[r] for r in pairs]] = softmax(z)
        return probs, feats

    # -- steps ----------------------------------------------------------------------------------

    def _fits_one_window(self, text: str) -> bool:
        return self._fits(text)

    def _plan(
        self,
        text: str,
        actors: list[Actor] | None,
        discover_limit: int,
        score_unmentioned: bool,
        cleaned: str,
        doc: Any,
        *,
        year: int | None = None,
    ) -> Plan:
        """Windows for one text; ``cleaned`` is ``clean(text)`` and ``doc`` its spaCy analysis;
        ``year`` fixes time-bound titles (None: the year the text names most)."""
        mentions: list[list[Mention]] | None = None
        salience: list[float] | None = None
        if actors is None:
            found = rank(doc, cleaned, limit=discover_limit, year=year)
            actors = [d.actor for d in found]
            mentions = [d.mentions for d in found]
            salience = [d.score for d in found]
        plan = self.windows.plan(
            text, actors, cleaned, doc, score_unmentioned=score_unmentioned, year=year, mentions=mentions
        )
        plan.salience = salience
        return plan

    def _finish(self, plan: Plan, probs: np.ndarray, n_evidence: int) -> list[ActorStance]:
        results = []
        for ai, actor in enumerate(plan.actors):
            rows = [k for k, w in enumerate(plan.windows) if w.actor == ai]
            ms = plan.mentions[ai]
            matched = sorted({plan.text[m.start : m.end] for m in ms if m.via == "name"})
            via = {"name": 0, "title": 0, "pronoun": 0}
            for m in ms:
                via[m.via] += 1
            salience = plan.salience[ai] if plan.salience is not None else None
            if not rows:
                results.append(
                    ActorStance(
                        actor.name,
                        "not_mentioned",
                        None,
                        None,
                        0,
                        [],
                        [],
                        0,
                        "sentence" if plan.short else "article",
                        via,
                        salience,
                    )
                )
                continue
            p = probs[rows]
            final = p[0] if plan.short else self.aggregator(p, self.labels)
            label = self.labels[int(np.argmax(final))]
            ev = self._evidence(plan, [plan.windows[k] for k in rows], p, label, n_evidence, ms)
            status: Literal["scored", "scored_unmentioned"] = (
                "scored_unmentioned" if ai in plan.unmentioned_scored else "scored"
            )
            results.append(
                ActorStance(
                    actor=actor.name,
                    status=status,
                    label=label,
                    probabilities={
                        lab: round(float(v), 4) for lab, v in zip(self.labels, final, strict=True)
                    },
                    mentions=len(ms),
                    aliases_matched=matched,
                    evidence=ev,
                    windows=len(rows),
                    level="sentence" if plan.short else "article",
                    mentions_via=via,
                    salience=salience,
                )
            )
        return results

    def _evidence(
        self, plan: Plan, windows: list[Window], p: np.ndarray, label: str, k: int, mentions: list[Mention]
    ) -> list[Evidence]:
        li = self.labels.index(label)
        out = []
        for w_i in np.argsort(-p[:, li])[:k]:
            w, row = windows[int(w_i)], p[int(w_i)]
            if w.sentence is None:
                start = len(plan.text) - len(plan.text.lstrip())
                end = len(plan.text.rstrip())
            elif w.sentence == -1:
                lead = plan.sentences[: min(3, len(plan.sentences))]
                start, end = lead[0].start, lead[-1].end
            else:
                start, end = plan.sentences[w.sentence].start, plan.sentences[w.sentence].end
            inside = {m.via for m in mentions if start <= m.start < end}
            via: Literal["name", "title", "pronoun"] = (
                "name" if "name" in inside or not inside else "title" if "title" in inside else "pronoun"
            )
            out.append(
                Evidence(
                    text=plan.text[start:end],
                    start=start,
                    end=end,
                    label=self.labels[int(np.argmax(row))],
                    probabilities={lab: round(float(v), 4) for lab, v in zip(self.labels, row, strict=True)},
                    via=via,
                )
            )
        return sorted(out, key=lambda e: e.start)


def _check_call(
    texts: Sequence[str | bytes],
    actors: Sequence[Any] | None,
    per_text_actors: Sequence[Sequence[Any] | None] | None,
    bias: bool | Sequence[bool],
    stance: bool,
) -> list[bool]:
    """Check the shape of an :meth:`StancePredictor.analyze` call; returns one bias flag per text."""
    if isinstance(texts, str | bytes):
        raise InvalidInputError(
            "expected a list of texts, found a single string",
            field="texts",
            fix="wrap it in a list: predict([text])",
        )
    if len(texts) > MAX_TEXTS:
        raise InvalidInputError(
            f"{len(texts)} texts in one call; the limit is {MAX_TEXTS}",
            field="texts",
            fix="send them in chunks",
        )
    if per_text_actors is not None and len(per_text_actors) != len(texts):
        raise InvalidInputError(
            f"per_text_actors has {len(per_text_actors)} entries for {len(texts)} texts",
            field="per_text_actors",
            fix="give one actor list (or None) per text",
        )
    wanted = [bias] * len(texts) if isinstance(bias, bool) else [bool(b) for b in bias]
    if len(wanted) != len(texts):
        raise InvalidInputError(
            f"bias has {len(wanted)} flags for {len(texts)} texts",
            field="bias",
            fix="give one flag per text, or a single True or False",
        )
    if not stance and (actors is not None or per_text_actors is not None):
        raise InvalidInputError(
            "actors were given with stance=False",
            field="actors",
            fix="leave the actors out to read only the bias heads, or keep stance=True",
        )
    return wanted


def _actor_specs(
    n_texts: int, given: list[Actor] | None, per_text_actors: Sequence[Sequence[Any] | None] | None
) -> list[list[Actor] | None]:
    """Each text's actors: its own (parsed; an :class:`Actor` is taken as it is), else ``given``
    (None: discover them)."""
    specs: list[list[Actor] | None] = []
    for i in range(n_texts):
        own = per_text_actors[i] if per_text_actors is not None else None
        specs.append(parse_actors(list(own), field=f"per_text_actors[{i}]") if own is not None else given)
    return specs


def _years(n_texts: int, dates: Sequence[str | int | datetime.date | None] | None) -> list[int | None]:
    """Each text's year from ``dates`` (one date or None per text); all None without ``dates``."""
    if dates is None:
        return [None] * n_texts
    if isinstance(dates, str | bytes) or len(dates) != n_texts:
        found = "is a single string" if isinstance(dates, str | bytes) else f"has {len(dates)} entries"
        raise InvalidInputError(
            f"dates {found} for {n_texts} texts",
            field="dates",
            fix="give one date (or None) per text, in the order of the texts",
        )
    return [parse_year(d, field=f"dates[{i}]") for i, d in enumerate(dates)]
