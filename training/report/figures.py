"""The report's figures, drawn with matplotlib's object API (no pyplot: no global backend is changed,
so building a report inside a notebook leaves its inline plots alone)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from model.labels import STANCE_LABELS

from .aggregate import ALL

COLOURS = {"against": "#c0392b", "neutral": "#7f8c8d", "favor": "#2471a3"}
LINE_COLOURS = ["#222222", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]
LEANING_COLOURS = {"left": "#2166ac", "center": "#9e9e9e", "right": "#b2182b"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def render(fig: Any) -> dict[str, bytes]:
    """The figure as PNG and SVG bytes."""
    import matplotlib

    out = {}
    with matplotlib.rc_context({"svg.hashsalt": "slant-report"}):  # the same SVG for the same data
        for fmt in ("png", "svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
            out[fmt] = buf.getvalue()
    return out


def _err(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)])


def by_group(actor: str, rows: Any, *, group_by: str) -> Any:
    """Shares of against / neutral / favor per group with 95% intervals, and the mean score beside them."""
    rows = rows.iloc[::-1]  # the largest group on top
    labels = [f"{g} (n={n:,})" for g, n in zip(rows["group"], rows["n"], strict=True)]
    y = np.arange(len(rows))
    fig = _figure(10, 1.2 + 0.38 * len(rows))
    shares, score = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    for k, label in enumerate(STANCE_LABELS):
        v = rows[label].to_numpy(dtype=float)
        err = _err(v, rows[f"{label}_low"].to_numpy(dtype=float), rows[f"{label}_high"].to_numpy(dtype=float))
        shares.errorbar(
            v, y + (k - 1) * 0.22, xerr=err, fmt="o", ms=4, capsize=2, color=COLOURS[label], label=label
        )
    shares.set_yticks(y, labels)
    shares.set_xlim(-0.02, 1.02)
    shares.set_xlabel("share of articles (95% bootstrap interval)")
    shares.legend(loc="lower left", bbox_to_anchor=(0, 1), fontsize="small", ncols=3, frameon=False)
    shares.grid(axis="x", alpha=0.3)
    v = rows["mean_score"].to_numpy(dtype=float)
    err = _err(v, rows["mean_score_low"].to_numpy(dtype=float), rows["mean_score_high"].to_numpy(dtype=float))
    score.errorbar(v, y, xerr=err, fmt="D", ms=4, capsize=2, color="#333333")
    score.axvline(0, color="#999999", lw=0.8)
    score.set_xlim(-1.02, 1.02)
    score.set_xlabel("mean P(favor) - P(against)")
    score.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Stance toward {actor}, by {group_by}", fontsize="medium")
    return fig


def over_time(actor: str, rows: Any, *, freq_name: str, min_articles: int) -> Any:
    """The mean score per period as lines with 95% bands; periods with too few articles are gaps."""
    import pandas as pd

    fig = _figure(10, 4.6)
    lines, counts = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    groups = [ALL, *sorted(g for g in rows["group"].unique() if g != ALL)]
    for i, group in enumerate(groups):
        part = rows[rows["group"] == group]
        if part.empty:
            continue
        x = pd.to_datetime(part["period"]).to_numpy()
        keep = part["enough"].to_numpy(dtype=bool)
        mean = np.where(keep, part["mean_score"].to_numpy(dtype=float), np.nan)
        low = np.where(keep, part["mean_score_low"].to_numpy(dtype=float), np.nan)
        high = np.where(keep, part["mean_score_high"].to_numpy(dtype=float), np.nan)
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        lw = 2.2 if group == ALL else 1.3
        lines.plot(x, mean, marker="o", ms=3, lw=lw, color=colour, label=group)
        lines.fill_between(x, low, high, color=colour, alpha=0.12 if group == ALL else 0.08, lw=0)
        if group == ALL:
            n = part["n"].to_numpy()
            counts.bar(
                x, n, width=5 if freq_name == "weeks" else 20, color=np.where(keep, "#777777", "#e0a0a0")
            )
            counts.axhline(min_articles, color="#c0392b", lw=0.8, ls="--")
    lines.axhline(0, color="#999999", lw=0.8)
    lines.set_ylim(-1.02, 1.02)
    lines.set_ylabel("mean P(favor) - P(against)")
    lines.legend(fontsize="small", ncols=min(4, len(groups)), loc="upper left")
    lines.grid(alpha=0.3)
    counts.set_ylabel("articles")
    counts.set_title(
        f"articles scored per {freq_name[:-1]} (red: fewer than {min_articles}, left as a gap above)",
        fontsize="small",
    )
    fig.suptitle(f"Stance toward {actor} over time ({freq_name}, 95% bootstrap bands)", fontsize="medium")
    return fig


def leaning(rows: Any, labels: list[str], *, group_by: str) -> Any:
    """Stacked shares of each leaning label per group, and the mean hyperpartisan probability."""
    rows = rows.iloc[::-1]
    y = np.arange(len(rows))
    fig = _figure(10, 1.2 + 0.38 * len(rows))
    stack, hp = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    left = np.zeros(len(rows))
    for label in labels:
        v = np.nan_to_num(rows[label].to_numpy(dtype=float))
        stack.barh(y, v, left=left, color=LEANING_COLOURS.get(label, "#bbbbbb"), label=label)
        left += v
    stack.set_yticks(y, [f"{g} (n={n:,})" for g, n in zip(rows["group"], rows["n_leaning"], strict=True)])
    stack.set_xlim(0, 1)
    stack.set_xlabel("share of articles by predicted leaning")
    stack.legend(
        loc="lower left", bbox_to_anchor=(0, 1), fontsize="small", ncols=len(labels) or 1, frameon=False
    )
    v = rows["hyperpartisan_mean"].to_numpy(dtype=float)
    err = _err(
        v,
        rows["hyperpartisan_mean_low"].to_numpy(dtype=float),
        rows["hyperpartisan_mean_high"].to_numpy(dtype=float),
    )
    hp.errorbar(v, y, xerr=np.nan_to_num(err), fmt="s", ms=4, capsize=2, color="#6a3d9a")
    hp.set_xlim(-0.02, 1.02)
    hp.set_xlabel("mean P(hyperpartisan), 95% interval")
    hp.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Leaning and hyperpartisan scores by {group_by}", fontsize="medium")
    return fig
