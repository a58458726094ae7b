"""Running aggregates over labelled rows: memory flat in the number of rows.

A chunk of rows at a time is flattened into one small table (one line per scored actor result)
and counted into dictionaries keyed by cell: (actor, group) and (actor, group, period). A cell
keeps its label counts, the sum of (favor - against) and a histogram of it (``BINS`` bins over
[-1, 1]), and its three most confident evidence sentences, so what is held grows with the
number of cells, never with the number of rows.

Confidence intervals are percentile bootstraps over articles. Resampling the articles of a cell
with replacement is drawing its label counts from a multinomial with the observed shares, so the
shares' bootstrap is exact from the counts; the mean of (favor - against) is resampled from its
histogram (bin width 0.01), which moves an interval by at most half a bin.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.labels import STANCE_LABELS

ALL = "(all)"
"""The group of every row: the over-time view always has it, and it is the only group without ``by``."""
MISSING = "(missing)"
BINS = 201  # (favor - against) in [-1, 1], 0.01 wide
HP_BINS = 101  # hyperpartisan probability in [0, 1]
EVIDENCE_PER_CELL = 3
SCORED = ("scored", "scored_unmentioned")


def _bin(values: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    pos = np.rint((np.clip(values, low, high) - low) / (high - low) * (bins - 1))
    return pos.astype(np.int64)


def _centres(low: float, high: float, bins: int) -> np.ndarray:
    return np.linspace(low, high, bins)


@dataclass
class Cell:
    """What is kept for one cell: label counts, the (favor - against) sum and histogram, low margins."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(STANCE_LABELS), dtype=np.int64))
    diff_sum: float = 0.0
    hist: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    low_margin: int = 0
    not_mentioned: int = 0

    @property
    def n(self) -> int:
        return int(self.counts.sum())


@dataclass
class BiasCell:
    leaning: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    hp_n: int = 0
    hp_sum: float = 0.0
    hp_over: int = 0  # probability >= 0.5
    hp_hist: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Aggregates:
    """Running totals; feed chunks with :meth:`add`, then read tables with :func:`tables`."""

    low_margin: float = 0.2
    by_group: dict[tuple[str, str], Cell] = field(default_factory=dict)
    over_time: dict[tuple[str, str, Any], Cell] = field(default_factory=dict)
    bias: dict[str, BiasCell] = field(default_factory=dict)
    evidence: dict[tuple[str, str], list[tuple[float, int, dict[str, Any]]]] = field(default_factory=dict)
    group_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: int = 0
    undated: int = 0
    bad_dates: int = 0
    has_bias: bool = False
    leaning_labels: list[str] = field(default_factory=list)
    models: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _seq: int = 0

    def add(
        self,
        records: Sequence[dict[str, Any]],
        *,
        groups: Sequence[str],
        periods: Sequence[Any] | None,
        actors: set[str] | None,
    ) -> None:
        """Count one chunk: ``records`` as ``slant label`` writes them, with each row's group and period."""
        import pandas as pd

        self.rows += len(records)
        flat: dict[str, list[Any]] = {k: [] for k in ("actor", "group", "period", "label", "diff", "margin")}
        for i, rec in enumerate(records):
            group = groups[i]
            period = periods[i] if periods is not None else None
            self.group_rows[group] += 1
            self.models[f"{rec.get('model')} {rec.get('version')}"] += 1
            for res in rec.get("actors") or ():
                name = res.get("actor")
                if actors is not None and name not in actors:
                    continue
                probs = res.get("probabilities")
                if res.get("status") not in SCORED or not probs or res.get("label") not in STANCE_LABELS:
                    self._cell(self.by_group, (name, group)).not_mentioned += 1
                    continue
                p = sorted((float(probs.get(lab) or 0.0) for lab in STANCE_LABELS), reverse=True)
                flat["actor"].append(name)
                flat["group"].append(group)
                flat["period"].append(period)
                flat["label"].append(STANCE_LABELS.index(res["label"]))
                flat["diff"].append(float(probs.get("favor") or 0.0) - float(probs.get("against") or 0.0))
                flat["margin"].append(p[0] - p[1])
                self._evidence((name, group), rec.get("id"), res.get("evidence") or ())
            self._bias(group, rec.get("bias"))
        if not flat["actor"]:
            return
        df = pd.DataFrame(flat)
        df["bin"] = _bin(df["diff"].to_numpy(), -1.0, 1.0, BINS)
        df["low"] = df["margin"] < self.low_margin
        self._count(df, ["actor", "group"], self.by_group)
        if periods is not None:
            dated = df[df["period"].notna()]
            self._count(dated, ["actor", "group", "period"], self.over_time)
            if groups and any(g != ALL for g in groups):
                self._count(dated.assign(group=ALL), ["actor", "group", "period"], self.over_time)

    @staticmethod
    def _cell(cells: dict[Any, Cell], key: Any) -> Cell:
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        return cell

    def _count(self, df: Any, keys: list[str], cells: dict[Any, Cell]) -> None:
        if df.empty:
            return
        grouped = df.groupby(keys, sort=False)
        labels = grouped["label"].value_counts()
        for (*key, label), count in labels.items():
            self._cell(cells, tuple(key)).counts[int(label)] += int(count)
        for key, row in grouped.agg(diff=("diff", "sum"), low=("low", "sum")).iterrows():
            cell = self._cell(cells, key if isinstance(key, tuple) else (key,))
            cell.diff_sum += float(row["diff"])
            cell.low_margin += int(row["low"])
        for (*key, b), count in df.groupby([*keys, "bin"], sort=False).size().items():
            self._cell(cells, tuple(key)).hist[int(b)] += int(count)

    def _evidence(self, key: tuple[str, str], article: Any, items: Iterable[dict[str, Any]]) -> None:
        heap = self.evidence.setdefault(key, [])
        for ev in items:
            probs = ev.get("probabilities") or {}
            confidence = float(max(probs.values())) if probs else 0.0
            self._seq += 1  # ties: the earlier sentence wins, and dicts are never compared
            entry = (
                confidence,
                -self._seq,
                {"id": article, "text": ev.get("text"), "label": ev.get("label")},
            )
            if len(heap) < EVIDENCE_PER_CELL:
                heapq.heappush(heap, entry)
            elif entry > heap[0]:
                heapq.heapreplace(heap, entry)

    def _bias(self, group: str, bias: Any) -> None:
        if not isinstance(bias, dict):
            return
        self.has_bias = True
        cell = self.bias.get(group)
        if cell is None:
            cell = self.bias[group] = BiasCell()
        leaning = bias.get("leaning")
        if isinstance(leaning, dict) and leaning.get("label"):
            cell.leaning[leaning["label"]] += 1
            for lab in leaning.get("probabilities") or {}:
                if lab not in self.leaning_labels:
                    self.leaning_labels.append(lab)
        hp = bias.get("hyperpartisan")
        if isinstance(hp, int | float) and not math.isnan(hp):
            cell.hp_n += 1
            cell.hp_sum += float(hp)
            cell.hp_over += int(hp >= 0.5)
            cell.hp_hist[int(_bin(np.array([hp]), 0.0, 1.0, HP_BINS)[0])] += 1


# -- bootstrap --------------------------------------------------------------------------------------


def share_interval(
    counts: np.ndarray, rng: np.random.Generator, draws: int, level: float = 0.95
) -> np.ndarray:
    """(low, high) per category of the shares ``counts / n``: a percentile bootstrap over articles.

    >>> share_interval(np.array([0, 0, 10]), np.random.default_rng(0), 200).tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    """
    n = int(counts.sum())
    if n == 0:
        return np.full((len(counts), 2), np.nan)
    sims = rng.multinomial(n, counts / n, size=draws) / n
    tail = (1 - level) / 2 * 100
    return np.percentile(sims, [tail, 100 - tail], axis=0).T


def mean_interval(
    hist: dict[int, int], centres: np.ndarray, rng: np.random.Generator, draws: int, level: float = 0.95
) -> tuple[float, float]:
    """(low, high) of the mean of the values whose histogram is ``hist``: a percentile bootstrap."""
    if not hist:
        return (math.nan, math.nan)
    keys = np.fromiter(hist.keys(), dtype=np.int64)
    counts = np.fromiter(hist.values(), dtype=np.float64)
    n = int(counts.sum())
    values = centres[keys]
    if n < len(keys):  # cheaper to draw articles than bins
        sims = rng.choice(values, size=(draws, n), p=counts / n).mean(axis=1)
    else:
        sims = rng.multinomial(n, counts / n, size=draws) @ values / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(sims, [tail, 100 - tail])
    return (float(low), float(high))


def _stance_row(cell: Cell, rng: np.random.Generator, draws: int, centres: np.ndarray) -> dict[str, Any]:
    n = cell.n
    row: dict[str, Any] = {"n": n, "not_mentioned": cell.not_mentioned}
    ci = share_interval(cell.counts, rng, draws)
    for k, label in enumerate(STANCE_LABELS):
        row[f"n_{label}"] = int(cell.counts[k])
        row[label] = cell.counts[k] / n if n else math.nan
        row[f"{label}_low"], row[f"{label}_high"] = (float(ci[k, 0]), float(ci[k, 1]))
    row["mean_score"] = cell.diff_sum / n if n else math.nan
    row["mean_score_low"], row["mean_score_high"] = mean_interval(cell.hist, centres, rng, draws)
    row["low_margin_share"] = cell.low_margin / n if n else math.nan
    return row


def tables(
    agg: Aggregates,
    *,
    by: str | None,
    draws: int = 1000,
    seed: int = 0,
    min_articles: int = 5,
    time_groups: Sequence[str] = (),
) -> dict[str, Any]:
    """The tidy tables: ``stance_by_group``, ``stance_over_time``, ``bias_by_group``, ``evidence``.

    ``stance_over_time`` has one row per period between each series' first and last, including
    periods with no article (``n`` 0); ``enough`` is false where fewer than ``min_articles``
    articles were scored (the figures leave a gap there). Only the ``time_groups`` (and
    :data:`ALL`) are kept over time.
    """
    import pandas as pd

    # One generator for every interval, drawn from in this order: the tables are reproducible.
    rng = np.random.default_rng(seed)
    group_by = by or ALL
    return {
        "stance_by_group": pd.DataFrame(_by_group_rows(agg, group_by, rng, draws)),
        "stance_over_time": pd.DataFrame(
            _over_time_rows(agg, group_by, rng, draws, min_articles, time_groups)
        ),
        "bias_by_group": pd.DataFrame(_bias_rows(agg, group_by, rng, draws)),
        "evidence": pd.DataFrame(
            _evidence_rows(agg, group_by),
            columns=["actor", "group_by", "group", "rank", "id", "label", "confidence", "text"],
        ),
    }


def _by_group_rows(
    agg: Aggregates, group_by: str, rng: np.random.Generator, draws: int
) -> list[dict[str, Any]]:
    centres = _centres(-1.0, 1.0, BINS)
    return [
        {"actor": actor, "group_by": group_by, "group": group, **_stance_row(cell, rng, draws, centres)}
        for (actor, group), cell in sorted(agg.by_group.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]


def _over_time_rows(
    agg: Aggregates,
    group_by: str,
    rng: np.random.Generator,
    draws: int,
    min_articles: int,
    time_groups: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per period of each (actor, group) series kept over time, empty periods included."""
    centres = _centres(-1.0, 1.0, BINS)
    keep = set(time_groups) | {ALL}
    series: dict[tuple[str, str], dict[Any, Cell]] = defaultdict(dict)
    for (actor, group, period), cell in agg.over_time.items():
        if group in keep:
            series[(actor, group)][period] = cell
    rows = []
    for (actor, group), cells in sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1] != ALL, kv[0][1])):
        periods = sorted(cells)
        for period in _period_range(periods[0], periods[-1], periods):
            cell = cells.get(period, Cell())
            row = {"actor": actor, "group_by": group_by, "group": group, "period": period}
            row.update(_stance_row(cell, rng, draws, centres))
            row["enough"] = cell.n >= min_articles
            rows.append(row)
    return rows


def _bias_rows(agg: Aggregates, group_by: str, rng: np.random.Generator, draws: int) -> list[dict[str, Any]]:
    """Per group: the leaning shares with intervals, and the hyperpartisan mean and share."""
    hp_centres = _centres(0.0, 1.0, HP_BINS)
    labels = agg.leaning_labels or sorted({lab for c in agg.bias.values() for lab in c.leaning})
    rows = []
    for group, bcell in sorted(agg.bias.items()):
        counts = np.array([bcell.leaning.get(lab, 0) for lab in labels], dtype=np.int64)
        n = int(counts.sum())
        row = {"group_by": group_by, "group": group, "n_leaning": n}
        ci = share_interval(counts, rng, draws) if labels else np.zeros((0, 2))
        for k, lab in enumerate(labels):
            row[f"n_{lab}"] = int(counts[k])
            row[lab] = counts[k] / n if n else math.nan
            row[f"{lab}_low"], row[f"{lab}_high"] = (float(ci[k, 0]), float(ci[k, 1]))
        row["n_hyperpartisan"] = bcell.hp_n
        row["hyperpartisan_mean"] = bcell.hp_sum / bcell.hp_n if bcell.hp_n else math.nan
        row["hyperpartisan_mean_low"], row["hyperpartisan_mean_high"] = mean_interval(
            bcell.hp_hist, hp_centres, rng, draws
        )
        row["hyperpartisan_share"] = bcell.hp_over / bcell.hp_n if bcell.hp_n else math.nan
        rows.append(row)
    return rows


def _evidence_rows(agg: Aggregates, group_by: str) -> list[dict[str, Any]]:
    """Each cell's evidence sentences, most confident first (``rank`` 1)."""
    return [
        {
            "actor": actor,
            "group_by": group_by,
            "group": group,
            "rank": rank,
            "id": ev["id"],
            "label": ev["label"],
            "confidence": confidence,
            "text": ev["text"],
        }
        for (actor, group), heap in sorted(agg.evidence.items())
        for rank, (confidence, _, ev) in enumerate(sorted(heap, reverse=True), start=1)
    ]


def _period_range(first: Any, last: Any, seen: list[Any]) -> list[Any]:
    """Every period from ``first`` to ``last`` (pandas Periods), so that empty ones are rows too."""
    import pandas as pd

    if isinstance(first, pd.Period):
        return list(pd.period_range(first, last, freq=first.freq))
    return seen
