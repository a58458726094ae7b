"""Distillation: a big teacher's judgement in the small student, on real news mention windows.

The GPU recipe (``slant distill``, one command on a lent machine):

1. **Teacher.** Fine-tune MPNet-base (``training/configs/mpnet-teacher.yaml``: every public
   training row plus slant's own labelled windows and contrast items, target-aware windows).
2. **Windows.** Find the actors of Article-Bias-Prediction articles as the service does
   (``discover``) and build their mention windows with the one window builder.
3. **Soft labels.** The teacher's calibrated probabilities for every window.
4. **Student.** Fine-tune MiniLM (the student config, normally ``default-stage3.yaml``) on its
   own gold rows (one-hot) plus the teacher-labelled windows (soft cross-entropy), then fit the
   temperature and aggregator and evaluate as ``slant train`` does.

Every step writes its result into the output folder, so a step that finished is not redone on
a second run (``teacher/``, ``windows.jsonl``, ``soft.jsonl``, ``student/``).
"""

from __future__ import annotations

import json
import logging
import lzma
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model import StancePredictor
from model.text import analyse_many, clean
from model.windows import unmark

from .config import TrainConfig, data_root

log = logging.getLogger(__name__)

ARTICLES = "article_bias_prediction/articles.jsonl.xz"


def iter_articles(root: str, *, limit: int | None = None, seed: int = 0) -> Iterator[str]:
    """Article texts of Article-Bias-Prediction (``content_original``), in a seeded random order."""
    path = data_root(root) / ARTICLES
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        texts = [t for t in (json.loads(line).get("content_original") for line in fh) if t]
    random.Random(seed).shuffle(texts)
    yield from texts[:limit] if limit else texts


def mention_windows(
    predictor: StancePredictor,
    texts: list[str],
    *,
    actors_per_text: int = 3,
    batch: int = 64,
    n_process: int = 1,
) -> list[dict[str, Any]]:
    """The windows the predictor would read for each text's discovered actors, unmarked.

    Rows are ``{"target", "aliases", "text"}``: the window text without markers and the actor's
    names, so that training re-marks them with the same function that serves.
    """
    from model.text import _nlp

    out: list[dict[str, Any]] = []
    for s in range(0, len(texts), batch * max(1, n_process)):
        part = texts[s : s + batch * max(1, n_process)]
        cleaned = [clean(t) for t in part]
        if n_process > 1:
            nlp = _nlp()
            nlp.max_length = max([nlp.max_length, *(len(t) + 1 for t in cleaned)])
            docs = list(nlp.pipe(cleaned, batch_size=batch, n_process=n_process))
        else:
            docs = analyse_many(cleaned, entities=True)
        for text, c, doc in zip(part, cleaned, docs, strict=True):
            plan = predictor._plan(text, None, actors_per_text, False, c, doc)
            for w in plan.windows:
                actor = plan.actors[w.actor]
                out.append({"target": actor.name, "aliases": list(actor.aliases), "text": unmark(w.text)})
    return out


def soft_labels(teacher: StancePredictor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each window row with the teacher's probabilities (``soft``) and their argmax (``label``)."""
    builder_rows = teacher.windows.examples([{**r, "label": "neutral"} for r in rows])
    probs = teacher.score_pairs([r["target"] for r in builder_rows], [r["text"] for r in builder_rows])
    order = teacher.labels
    out = []
    for r, p in zip(rows, probs, strict=True):
        soft = {label: float(v) for label, v in zip(order, p, strict=True)}
        from model.labels import STANCE_LABELS

        vec = [round(soft[label], 5) for label in STANCE_LABELS]
        out.append({**r, "soft": vec, "label": STANCE_LABELS[vec.index(max(vec))], "dataset": "distill"})
    return out


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def distill(
    *,
    teacher_config: TrainConfig,
    student_config: TrainConfig,
    output_dir: str | Path,
    articles: int | None = None,
    actors_per_text: int = 3,
    n_process: int = 1,
    texts: list[str] | None = None,
) -> Path:
    """Run the recipe (module docstring); returns the finished student model directory."""
    from .pipeline import finalize, run_training
    from .train import build_training_rows, fine_tune

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    teacher_dir = out / "teacher"
    if not (teacher_dir / "slant.json").exists() or "dev" not in json.loads(
        (teacher_dir / "slant.json").read_text()
    ).get("metrics", {}):
        log.info("step 1/4: teacher %s", teacher_config.base_model)
        run_training(teacher_config, output_dir=teacher_dir)
    teacher = StancePredictor.load(teacher_dir, heads=[])
    windows_path, soft_path = out / "windows.jsonl", out / "soft.jsonl"
    if not windows_path.exists():
        log.info("step 2/4: mention windows")
        source = texts if texts is not None else list(iter_articles(student_config.data_root, limit=articles))
        _write(
            windows_path,
            mention_windows(teacher, source, actors_per_text=actors_per_text, n_process=n_process),
        )
    if not soft_path.exists():
        log.info("step 3/4: teacher soft labels")
        _write(soft_path, soft_labels(teacher, _read(windows_path)))
    soft = _read(soft_path)
    log.info("step 4/4: student on its gold rows + %d teacher-labelled windows", len(soft))
    gold, hashes = build_training_rows(student_config)
    hashes["distill:windows"] = f"rows:{len(soft)}"
    rows = gold + soft
    random.Random(student_config.seed).shuffle(rows)
    student_dir = out / "student"
    fine_tune(student_config, output_dir=student_dir, rows=rows, data_hashes=hashes)
    return finalize(student_dir, student_config)
