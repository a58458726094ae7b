"""``slant train``: fine-tune, fit the article aggregator, evaluate, write the model card."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from model import StancePredictor
from model.aggregate import Aggregator
from model.loading import read_meta, write_meta

from .aggregator import fit_aggregator
from .calibration import calibrate
from .config import TrainConfig
from .data import load_rows, spec_hash
from .evaluate import actor_of, evaluate_rows
from .metrics import stance_metrics
from .train import fine_tune

log = logging.getLogger(__name__)


def run_training(config: TrainConfig, *, output_dir: str | Path | None = None) -> Path:
    """Everything ``slant train`` does; returns the finished model directory."""
    out = fine_tune(config, output_dir=output_dir)
    return finalize(out, config)


def finalize(model_dir: str | Path, config: TrainConfig) -> Path:
    """Fit the aggregator (if the config names article data), evaluate, write metrics and card.

    Safe to re-run on a fine-tuned directory: it only rewrites slant.json and README.md.
    """
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    meta.aggregator = None
    meta.calibration = None
    # What this step fits and scores comes from ``config`` (it may differ from the fine-tune's, as
    # after a weight average): record those sections and their hashes, not the fine-tune's.
    final = config.model_dump(mode="json")
    meta.training_config = {
        **(meta.training_config or {}),
        **{k: final[k] for k in ("calibration", "aggregator", "eval")},
    }
    finalized = ("calibration:", "aggregator:", "eval:")
    meta.data_hashes = {k: v for k, v in meta.data_hashes.items() if not k.startswith(finalized)}
    # The model card reports the weights as trained (torch); the serving backends' cost is measured apart.
    predictor = StancePredictor.load(model_dir, max_windows=config.aggregator.max_windows, backend="torch")
    predictor.temperature = 1.0
    predictor.aggregator = Aggregator()  # a re-run must not read the aggregator it is about to replace
    # The temperature first: the aggregator is then fitted on calibrated window probabilities.
    meta.calibration = calibrate(predictor, config)
    if meta.calibration is not None:
        for spec in config.calibration:
            meta.data_hashes[f"calibration:{spec.name}"] = spec_hash(spec, config.data_root)
        predictor.temperature = float(meta.calibration["temperature"])
        log.info("temperature %.3f fitted on %d rows", predictor.temperature, meta.calibration["rows"])
    if config.aggregator.data:
        rows = [r for spec in config.aggregator.data for r in load_rows(spec, config.data_root)]
        agg = fit_aggregator(
            predictor,
            rows,
            c=config.aggregator.c,
            sources=[s.name for s in config.aggregator.data],
            weights=config.aggregator.weights,
        )
        meta.aggregator = agg.to_json()
        for spec in config.aggregator.data:
            meta.data_hashes[f"aggregator:{spec.name}"] = spec_hash(spec, config.data_root)
        predictor.aggregator = agg
    report: dict[str, Any] = {}
    ablations: dict[str, Any] = {}
    for spec in config.eval:
        rows = load_rows(spec, config.data_root)
        meta.data_hashes[f"eval:{spec.name}"] = spec_hash(spec, config.data_root)
        log.info("evaluating %s (%d rows)", spec.name, len(rows))
        report[spec.name] = evaluate_rows(predictor, rows, spec.name)
        if _mostly_articles(predictor, rows):
            ablations[spec.name] = article_ablations(predictor, rows)
    meta.metrics = {**meta.metrics, "dev": report, "article_ablations": ablations}
    write_meta(model_dir, meta)
    (model_dir / "eval_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (model_dir / "README.md").write_text(model_card(meta.to_json()), encoding="utf-8")
    return model_dir


def _mostly_articles(predictor: StancePredictor, rows: list[dict[str, Any]]) -> bool:
    sample = rows[:20]
    return bool(sample) and sum(not predictor._fits_one_window(r["text"]) for r in sample) > len(sample) / 2


def article_ablations(predictor: StancePredictor, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same classifier on whole articles three ways.

    First tokens only (the ordinary recipe), mean of the windows, and the trained aggregator.
    """
    gold = [r["label"] for r in rows]
    first = predictor.score_pairs([r["target"] for r in rows], [" ".join(r["text"].split()) for r in rows])
    # Rows short enough for one window are scored whole by every method, as predict() does.
    windows = [predictor.window_probabilities(r["text"], actor_of(r)) for r in rows]

    def combine(agg: Aggregator) -> np.ndarray:
        return np.array([w[0] if short else agg(w, predictor.labels) for w, short in windows])

    mean = combine(Aggregator())
    out = {
        f"first_{predictor.max_length}_tokens": _short(stance_metrics(gold, first, predictor.labels)),
        "windows_mean": _short(stance_metrics(gold, mean, predictor.labels)),
    }
    if predictor.aggregator.kind != "mean":
        learned = combine(predictor.aggregator)
        out["windows_" + predictor.aggregator.kind] = _short(stance_metrics(gold, learned, predictor.labels))
    return out


def _short(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("n", "macro_f1", "f_avg", "accuracy", "ece")}


_HEADS = {"cls": "pooled CLS state", "markers": "pooled CLS + mean [TGT] marker state (model/heads.py)"}


def model_card(meta: dict[str, Any]) -> str:
    """A Markdown model card from slant.json."""
    metrics = meta.get("metrics", {})
    sections = [
        _card_head(meta),
        _dev_section(metrics.get("dev") or {}),
        _article_section(metrics.get("article_ablations") or {}),
        _ablation_section(metrics.get("ablation") or {}),
        _training_section(meta),
        _CARD_FOOT,
    ]
    return "\n".join(line for section in sections for line in section)


def _card_head(meta: dict[str, Any]) -> list[str]:
    return [
        f"# {meta['name']} (version {meta['version']})",
        "",
        f"Stance (`{'`, `'.join(meta['labels'])}`) toward a named target, fine-tuned by slant's harness "
        f"from `{meta['base_model']}`, max {meta['max_length']} tokens per window.",
        "",
        *[
            f"Fine-tuned from `{p['path']}` ({p['name']} version {p['version']}), itself trained as recorded "
            "in that model's card."
            for p in (meta.get("parents") or [])[:1]
        ],
    ]


def _dev_section(dev: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Dev-set results",
        "",
        "| dev set | rows | macro-F1 | F_avg | accuracy | neutral F1 | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in dev.items():
        neutral = (m.get("f1_per_class") or {}).get("neutral", "-")
        row = [m["n"], m["macro_f1"], m["f_avg"], m["accuracy"], neutral, m["ece"]]
        lines.append(f"| {name} | " + " | ".join(str(x) for x in row) + " |")
    for name, m in dev.items():
        if m.get("per_kind"):
            lines += ["", f"{name}, by kind (where tone and stance disagree, and controls):", ""]
            lines += ["| kind | rows | accuracy | macro-F1 | ECE |", "|---|---|---|---|---|"]
            for kind, k in m["per_kind"].items():
                lines.append(f"| {kind} | {k['n']} | {k['accuracy']} | {k['macro_f1']} | {k['ece']} |")
    return lines


def _article_section(ab: dict[str, Any]) -> list[str]:
    if not ab:
        return []
    lines = [
        "",
        "## Whole articles: truncation vs windows",
        "",
        "| dev set | method | macro-F1 | F_avg | accuracy | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for name, methods in ab.items():
        for method, m in methods.items():
            cells = [m["macro_f1"], m["f_avg"], m["accuracy"], m["ece"]]
            lines.append(f"| {name} | {method} | " + " | ".join(str(x) for x in cells) + " |")
    return lines


def _ablation_section(ablation: dict[str, Any]) -> list[str]:
    """The variants tried on the way to this model (recorded by ``benchmarks/dev_table.py --record``)."""
    if not ablation:
        return []
    sets = list(ablation.get("sets", []))
    lines = [
        "",
        "## Ablation: the variants tried (dev sets, macro-F1; contrast sets: accuracy)",
        "",
        "| variant | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for row in ablation.get("rows", []):
        cells = [str(row["scores"].get(k, "-")) for k in sets]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return lines + [f"- {note}" for note in ablation.get("notes", [])]


def _training_section(meta: dict[str, Any]) -> list[str]:
    train = meta.get("metrics", {}).get("train") or {}
    tc = meta.get("training_config") or {}
    aggregator = meta.get("aggregator") or {}
    markers = meta.get("window_format") == 2
    return [
        "",
        "## Training",
        "",
        f"- rows: {train.get('rows')}, steps: {train.get('steps')}, final loss: {train.get('loss')}, "
        f"time: {train.get('seconds')} s on {train.get('device')}",
        f"- sources: {', '.join(s['name'] for s in tc.get('train', []))}",
        f"- hyper-parameters: {json.dumps(tc.get('training', {}))}",
        f"- aggregator: {aggregator.get('type', 'mean')} {json.dumps(aggregator.get('info', {}))}",
        f"- windows: format {meta.get('window_format', 1)} "
        f"({'actor mentions wrapped in [TGT] markers' if markers else 'plain'})",
        f"- classifier head: {_HEADS.get(train.get('head', 'cls'), train.get('head'))}",
        *_soup_lines((meta.get("extra") or {}).get("soup")),
        f"- calibration: {json.dumps(meta.get('calibration')) if meta.get('calibration') else 'none'}",
    ]


def _soup_lines(soup: dict[str, Any] | None) -> list[str]:
    if not soup:
        return []
    old, new, alpha = soup["old"], soup["new"], float(soup["alpha_old"])
    return [
        f"- weights: an average (`training/soup.py`) of {alpha:g} x `{old['path']}` ({old['name']} version "
        f"{old['version']}) and {1 - alpha:g} x `{new['path']}` ({new['name']} version {new['version']}, "
        "the run the rows, steps and sources above describe)"
    ]


_CARD_FOOT = [
    "",
    "## Data licences",
    "",
    "SemEval-2016 / TweetEval tweets are NRC data for research use only (do not redistribute); P-Stance "
    "(MIT, Twitter terms), NewsMTSC (MIT), VAST (no licence stated), PerSenT (licence unclear: CC-BY 4.0 "
    "per TFDS, unknown per HF). The weights are a derived work: check these terms before commercial use.",
    "",
    "## Limits",
    "",
    "Stance is learned from tweets, news sentences and reader comments; NewsMTSC's labels are sentiment "
    "toward a person, which the harness maps to favor/against. Neutral and unseen targets are the weak "
    "spots; see the dev numbers above.",
    "",
]
