"""Writing a report folder: tidy tables, figures and one self-contained HTML page (jinja2).

The page embeds its figures as data URIs and carries its own stylesheet, so it opens from a file
with no network; the evidence behind each cell is in the page (a tooltip on hover, a list on click).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.labels import STANCE_LABELS

from . import figures
from .aggregate import ALL, Aggregates

if TYPE_CHECKING:
    from .plan import ReportPlan

TEMPLATE = "report.html.j2"


def calibration(model: str | Path | None, agg: Aggregates) -> dict[str, Any]:
    """The calibration caveat: the model's dev ECE (``slant.json`` metrics, else ``eval_report.json``)
    and the share of labels whose top two probabilities are within ``low_margin``."""
    scored = sum(c.n for c in agg.by_group.values())
    low = sum(c.low_margin for c in agg.by_group.values())
    out: dict[str, Any] = {
        "low_margin": agg.low_margin,
        "low_margin_share": low / scored if scored else math.nan,
        "labels_from": sorted(agg.models, key=lambda m: -agg.models[m]),
        "model": None,
        "sets": [],
        "ece": None,
        "note": "",
    }
    from model.loading import read_meta
    from model.predictor import default_model_path

    path = Path(model) if model is not None else Path(default_model_path())
    try:
        meta = read_meta(path)
    except Exception as exc:  # a missing or unreadable model: the caveat says so, the report goes on
        out["note"] = f"no dev ECE: {path} is not a readable model directory ({exc})"
        return out
    identity = f"{meta.name} {meta.version}"
    if model is None and identity not in agg.models:
        out["note"] = (
            f"no dev ECE: the labels come from {', '.join(out['labels_from'])}, not the default model "
            f"({identity}); pass --model with the model directory that labelled them"
        )
        return out
    dev = (meta.metrics or {}).get("dev")
    if not isinstance(dev, dict):
        report = path / "eval_report.json"
        try:
            dev = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            dev = None
    sets = [
        {"name": name, "n": int(m.get("n") or 0), "ece": float(m["ece"])}
        for name, m in sorted((dev or {}).items())
        if isinstance(m, dict) and isinstance(m.get("ece"), int | float)
    ]
    out["model"] = identity
    out["sets"] = sets
    total = sum(s["n"] for s in sets)
    if sets and total:
        out["ece"] = sum(s["ece"] * s["n"] for s in sets) / total
    else:
        out["note"] = f"{identity} records no dev ECE (no metrics.dev in its slant.json, no eval_report.json)"
    return out


def slug(name: str) -> str:
    """A file-name-safe form of an actor or a group name.

    >>> slug("Hillary Clinton / HRC")
    'hillary-clinton-hrc'
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "actor"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _pct(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.0f}%"


def _num(value: Any, digits: int = 2) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.{digits}f}"


class _Files:
    """The files written under one report folder, in the order they were written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[str] = []

    def save(self, rel: str, data: bytes) -> None:
        (self.folder / rel).write_bytes(data)
        self.written.append(rel)

    def figure(self, fig: Any, base: str) -> tuple[str, list[str]]:
        """Save ``fig`` as ``figures/<base>.png`` and ``.svg``; returns its PNG data URI and the two files."""
        rendered = figures.render(fig)
        files = [f"figures/{base}.png", f"figures/{base}.svg"]
        self.save(files[0], rendered["png"])
        self.save(files[1], rendered["svg"])
        return _data_uri(rendered["png"]), files


def write_report(
    folder: Path,
    *,
    plan: ReportPlan,
    agg: Aggregates,
    tables: dict[str, Any],
    actors: list[str],
    caveat: dict[str, Any],
) -> list[str]:
    """Write everything under ``folder`` (a fresh temporary folder); return the files, relative."""
    (folder / "figures").mkdir(parents=True)
    (folder / "aggregates").mkdir()
    files = _Files(folder)
    _write_tables(files, tables)
    group_by = plan.by or ("leaning" if plan.by_leaning else None)
    sections = [_actor_section(files, actor, plan, tables, group_by) for actor in actors]
    bias_section = _bias_section(files, tables["bias_by_group"], agg, plan, group_by)
    summary = _summary(plan, agg, actors, caveat, group_by)
    files.save("aggregates/summary.json", (json.dumps(summary, indent=2, default=str) + "\n").encode("utf-8"))
    html = _render_page(
        summary,
        sections,
        bias_section,
        caveat,
        plan,
        [f for f in files.written if f.startswith("aggregates/")],
    )
    files.save("index.html", html.encode("utf-8"))
    return ["index.html", *sorted(f for f in files.written if f != "index.html")]


def _write_tables(files: _Files, tables: dict[str, Any]) -> None:
    """Each table as CSV and Parquet under ``aggregates/`` (no bias table when no row has bias)."""
    for name, frame in tables.items():
        if name == "bias_by_group" and not len(frame):
            continue
        files.save(f"aggregates/{name}.csv", frame.to_csv(index=False).encode("utf-8"))
        frame.to_parquet(files.folder / f"aggregates/{name}.parquet", index=False)
        files.written.append(f"aggregates/{name}.parquet")


def _actor_section(
    files: _Files, actor: str, plan: ReportPlan, tables: dict[str, Any], group_by: str | None
) -> dict[str, Any]:
    """One actor's part of the page: its by-group figure and cells, and its over-time figure."""
    by_group, evidence = tables["stance_by_group"], tables["evidence"]
    rows = by_group[(by_group["actor"] == actor) & (by_group["n"] > 0)]
    rows = rows.sort_values(["n", "group"], ascending=[False, True])
    shown = rows.head(plan.max_groups)
    base = slug(actor)
    uri, figure_files = files.figure(
        figures.by_group(actor, shown, group_by=group_by or "all articles"), f"{base}-by-group"
    )
    section: dict[str, Any] = {
        "actor": actor,
        "slug": base,
        "figure": uri,
        "figure_files": figure_files,
        "hidden_groups": max(0, len(rows) - len(shown)),
        "time_figure": None,
        "cells": [],
    }
    ev = evidence[evidence["actor"] == actor]
    for r in rows.to_dict("records"):
        items = ev[ev["group"] == r["group"]].sort_values("rank").to_dict("records")
        section["cells"].append(_cell(r, items))
    over_time = tables["stance_over_time"]
    if plan.time and len(over_time):
        series = over_time[over_time["actor"] == actor]
        if len(series):
            fig = figures.over_time(
                actor, series, freq_name=_freq_name(plan.freq), min_articles=plan.min_articles
            )
            section["time_figure"], section["time_files"] = files.figure(fig, f"{base}-over-time")
            sparse = series[(series["group"] == ALL) & ~series["enough"]]
            section["gaps"] = len(sparse)
    return section


def _cell(r: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """One (actor, group) cell of the page: shares with intervals, the mean score, its evidence."""
    return {
        "group": r["group"],
        "n": r["n"],
        "not_mentioned": r["not_mentioned"],
        "shares": [
            {
                "label": lab,
                "share": _pct(r[lab]),
                "interval": f"{_pct(r[f'{lab}_low'])}–{_pct(r[f'{lab}_high'])}",
            }
            for lab in STANCE_LABELS
        ],
        "score": _num(r["mean_score"]),
        "score_interval": f"{_num(r['mean_score_low'])} to {_num(r['mean_score_high'])}",
        "low_margin": _pct(r["low_margin_share"]),
        "evidence": [
            {
                "id": e["id"],
                "label": e["label"],
                "confidence": f"{e['confidence']:.2f}",
                "text": e["text"],
            }
            for e in items
        ],
        "tooltip": "\n".join(f"[{e['id']}] {e['label']}: {e['text']}" for e in items),
    }


def _bias_section(
    files: _Files, bias: Any, agg: Aggregates, plan: ReportPlan, group_by: str | None
) -> dict[str, Any] | None:
    """The leaning and hyperpartisan part of the page; None when no row has bias."""
    if not len(bias):
        return None
    labels = [lab for lab in (agg.leaning_labels or []) if lab in bias.columns]
    shown = bias.sort_values(["n_leaning", "group"], ascending=[False, True]).head(plan.max_groups)
    uri, figure_files = files.figure(
        figures.leaning(shown, labels, group_by=group_by or "all articles"), "leaning-hyperpartisan"
    )
    return {
        "figure": uri,
        "files": figure_files,
        "labels": labels,
        "rows": [
            {
                "group": r["group"],
                "n": r["n_leaning"],
                "shares": [_pct(r[lab]) for lab in labels],
                "hp": "" if math.isnan(r["hyperpartisan_mean"]) else f"{r['hyperpartisan_mean']:.2f}",
                "hp_share": _pct(r["hyperpartisan_share"]),
            }
            for r in bias.sort_values(["n_leaning", "group"], ascending=[False, True]).to_dict("records")
        ],
    }


def _summary(
    plan: ReportPlan, agg: Aggregates, actors: list[str], caveat: dict[str, Any], group_by: str | None
) -> dict[str, Any]:
    """What ``aggregates/summary.json`` says, and the page's header."""
    return {
        "labelled": str(plan.labelled.path),
        "rows": agg.rows,
        "by": group_by,
        "time": plan.time,
        "freq": plan.freq if plan.time else None,
        "actors": actors,
        "groups": len(agg.group_rows),
        "undated_rows": agg.undated if plan.time else None,
        "bad_dates": agg.bad_dates if plan.time else None,
        "bootstrap": plan.bootstrap,
        "min_articles": plan.min_articles,
        "calibration": {k: v for k, v in caveat.items() if not (isinstance(v, float) and math.isnan(v))},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _render_page(
    summary: dict[str, Any],
    sections: list[dict[str, Any]],
    bias_section: dict[str, Any] | None,
    caveat: dict[str, Any],
    plan: ReportPlan,
    table_files: list[str],
) -> str:
    """The HTML page, from the package's jinja2 template."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("training.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(TEMPLATE).render(
        summary=summary,
        sections=sections,
        bias=bias_section,
        caveat=caveat,
        ece=None if caveat["ece"] is None else f"{caveat['ece']:.3f}",
        low_margin_share=_pct(caveat["low_margin_share"]),
        freq_name=_freq_name(plan.freq) if plan.time else None,
        files=table_files,
    )


def _freq_name(freq: str) -> str:
    return {"W": "weeks", "M": "months"}[freq]
