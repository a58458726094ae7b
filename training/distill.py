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
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model import StancePredictor
from model.errors import ConfigError
from model.files import write_text_atomic
from model.labels import STANCE_LABELS
from model.text import analyse_many, clean
from model.windows import unmark

from .config import DatasetSpec, TrainConfig, data_root

log = logging.getLogger(__name__)

ARTICLES = "article_bias_prediction/articles.jsonl.xz"
WINDOW_SEED = 0


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
    from model.text import SENTENCE_SPLITTER, _nlp

    out: list[dict[str, Any]] = []
    cleaned_all = [clean(t) for t in texts]
    if n_process > 1:
        # One multi-process pass with serving's own pipeline (same sentence splitter).
        nlp = _nlp(SENTENCE_SPLITTER)
        nlp.max_length = max([nlp.max_length, *(len(t) + 1 for t in cleaned_all)])
        docs_all = list(nlp.pipe(cleaned_all, batch_size=batch, n_process=n_process))
    for s in range(0, len(texts), batch):
        part, cleaned = texts[s : s + batch], cleaned_all[s : s + batch]
        docs = docs_all[s : s + batch] if n_process > 1 else analyse_many(cleaned, entities=True)
        for text, c, doc in zip(part, cleaned, docs, strict=True):
            plan = predictor._plan(text, None, actors_per_text, False, c, doc)
            for w in plan.windows:
                actor = plan.actors[w.actor]
                out.append({"target": actor.name, "aliases": list(actor.aliases), "text": unmark(w.text)})
    return out


def soft_labels(teacher: StancePredictor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each window row with the teacher's probabilities (``soft``) and their argmax (``label``)."""
    builder_rows = teacher.windows.examples([{**r, "label": "neutral"} for r in rows])
    if len(builder_rows) != len(rows):
        raise ConfigError(
            f"{len(rows)} windows re-read as {len(builder_rows)}: the teacher reads some windows as articles",
            fix="use a teacher with window format 2 and a max_length of at least the student's",
        )
    out = []
    for r, vec in zip(rows, _stance_probs(teacher, builder_rows), strict=True):
        vec = [round(v, 5) for v in vec]
        out.append({**r, "soft": vec, "label": STANCE_LABELS[vec.index(max(vec))], "dataset": "distill"})
    return out


def _stance_probs(teacher: StancePredictor, pairs: list[dict[str, Any]]) -> list[list[float]]:
    """The teacher's probabilities for each window (``target``, ``text``), in ``STANCE_LABELS`` order."""
    probs = teacher.score_pairs([p["target"] for p in pairs], [p["text"] for p in pairs])
    order = [teacher.labels.index(label) for label in STANCE_LABELS]
    return [[float(p[j]) for j in order] for p in probs]


def rehearse(teacher: StancePredictor, rows: list[dict[str, Any]], *, weight: float) -> list[dict[str, Any]]:
    """Gold rows whose target is blended with the teacher's judgement (learning without forgetting).

    Each short row (one window) gets ``soft = weight * teacher + (1 - weight) * one-hot(label)``, so
    that a continued fine-tune keeps close to the teacher on the sources it already learnt while it
    learns new rows. Rows the window builder reads as articles (several windows) keep their hard label.
    """
    if not 0 < weight <= 1:
        raise ConfigError(f"rehearsal weight {weight} is not in (0, 1]", fix="pass a weight such as 0.5")
    per_row = [teacher.windows.examples([r]) for r in rows]
    single = [i for i, w in enumerate(per_row) if len(w) == 1]
    out = [dict(r) for r in rows]
    for i, p in zip(single, _stance_probs(teacher, [per_row[i][0] for i in single]), strict=True):
        gold = STANCE_LABELS.index(out[i]["label"])
        out[i]["soft"] = [round(weight * v + (1 - weight) * (k == gold), 5) for k, v in enumerate(p)]
    return out


def _preflight(
    teacher: TrainConfig | None, student: TrainConfig, *, teacher_model: Path | None, need_articles: bool
) -> None:
    """Fail in seconds, not after the teacher's hours: every base model and the articles exist."""
    from model.loading import resolve_pretrained

    for role, cfg in (("teacher", teacher), ("student", student)):
        if cfg is None:
            continue
        base = resolve_pretrained(cfg.base_model)
        local = base.startswith((".", "/", "~")) or base.startswith("runs/") or base.startswith("models/")
        if local and not Path(base).is_dir():
            raise ConfigError(
                f"the {role}'s base model {cfg.base_model!r} does not exist",
                fix="train it first (`make train-default` writes runs/stage2) or pass "
                f"--set base_model=models/default for the {role}",
            )
    if teacher_model is not None:
        meta = teacher_model / "slant.json"
        if not meta.is_file():
            raise ConfigError(
                f"the teacher model {str(teacher_model)!r} is not a slant model directory (no slant.json)",
                fix="pass a folder that `slant train` wrote, such as models/default",
            )
        fmt = json.loads(meta.read_text(encoding="utf-8")).get("window_format")
        if fmt != 2:
            raise ConfigError(
                f"the teacher model {str(teacher_model)!r} has window format {fmt}, not 2",
                fix="retrain it with `slant train` (window_format: 2) or pick another teacher",
            )
    elif teacher is None:
        raise ConfigError("distill needs a teacher", fix="pass a teacher config or --teacher-model DIR")
    elif teacher.window_format != 2:
        raise ConfigError("the teacher must use window format 2", fix="set window_format: 2 in its config")
    articles = data_root(student.data_root) / ARTICLES
    if need_articles and not articles.exists():
        raise ConfigError(f"no articles at {articles}", fix="set SLANT_DATA_ROOT to the shared data folder")


def sample_windows(rows: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """At most ``limit`` windows, a random sample seeded with ``WINDOW_SEED`` (all of them when None).

    The seed is fixed, not the student's, so that a student trained with another seed reads the same
    teacher-labelled windows.
    """
    if limit is None or len(rows) <= limit:
        return rows
    picked = list(rows)
    random.Random(WINDOW_SEED).shuffle(picked)
    return picked[:limit]


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _check_rehearse(config: TrainConfig, names: list[str]) -> None:
    """Every rehearsed source is a train source of the student (checked before any step runs)."""
    unknown = sorted(set(names) - {spec.name for spec in config.train})
    if unknown:
        raise ConfigError(
            f"rehearse sources {unknown} are not train sources of the student config",
            fix="name sources from its train list: " + ", ".join(spec.name for spec in config.train),
        )


def _gold_rows(
    config: TrainConfig, teacher: StancePredictor, names: list[str], weight: float
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The student's mixed training rows (as ``slant train`` reads them), the named sources rehearsed."""
    from .train import build_training_rows

    def blend(spec: DatasetSpec, part: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rehearse(teacher, part, weight=weight) if spec.name in names else part

    rows, hashes = build_training_rows(config, transform=blend)
    hashes.update({f"rehearse:{name}": f"weight:{weight}" for name in names})
    return rows, hashes


def distill(
    *,
    teacher_config: TrainConfig | None,
    student_config: TrainConfig,
    output_dir: str | Path,
    articles: int | None = None,
    actors_per_text: int = 3,
    n_process: int = 1,
    texts: list[str] | None = None,
    teacher_model: str | Path | None = None,
    max_windows: int | None = None,
    rehearse_sources: list[str] | None = None,
    rehearse_weight: float = 0.5,
) -> Path:
    """Run the recipe (module docstring); returns the finished student model directory.

    ``teacher_model``: an already trained slant model that labels the windows instead of a teacher
    trained in step 1 (which is then skipped). With the student's own base model as the teacher this
    is self-distillation: the old model's judgement on real news windows is rehearsed while the
    student learns its new gold rows. ``max_windows``: soft-label only a seeded sample of the windows.
    ``rehearse_sources``: names of student train sources whose rows are blended with the teacher's
    probabilities (:func:`rehearse`, ``rehearse_weight`` on the teacher).
    """
    from .pipeline import finalize, run_training
    from .train import fine_tune

    given = Path(teacher_model) if teacher_model is not None else None
    _preflight(teacher_config, student_config, teacher_model=given, need_articles=texts is None)
    _check_rehearse(student_config, rehearse_sources or [])
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    teacher_dir = given if given is not None else out / "teacher"
    if given is None and (
        not (teacher_dir / "slant.json").exists()
        or "dev" not in json.loads((teacher_dir / "slant.json").read_text()).get("metrics", {})
    ):
        assert teacher_config is not None  # _preflight refuses a run with neither
        log.info("step 1/4: teacher %s", teacher_config.base_model)
        run_training(teacher_config, output_dir=teacher_dir)
    teacher = StancePredictor.load(teacher_dir, with_heads=False)
    windows_path, soft_path = out / "windows.jsonl", out / "soft.jsonl"
    if not windows_path.exists():
        log.info("step 2/4: mention windows")
        source = texts if texts is not None else list(iter_articles(student_config.data_root, limit=articles))
        _write(
            windows_path,
            mention_windows(teacher, source, actors_per_text=actors_per_text, n_process=n_process),
        )
    windows = sample_windows(_read(windows_path), max_windows)
    soft = _read(soft_path) if soft_path.exists() else []
    if not soft_path.exists() or len(soft) != len(windows):
        log.info("step 3/4: teacher soft labels (%d windows)", len(windows))
        soft = soft_labels(teacher, windows)
        _write(soft_path, soft)
    log.info("step 4/4: student on its gold rows + %d teacher-labelled windows", len(soft))
    gold, hashes = _gold_rows(student_config, teacher, rehearse_sources or [], rehearse_weight)
    hashes["distill:windows"] = f"rows:{len(soft)}"
    hashes["distill:teacher"] = str(teacher_dir)
    rows = gold + soft
    random.Random(student_config.seed).shuffle(rows)
    student_dir = out / "student"
    fine_tune(student_config, output_dir=student_dir, rows=rows, data_hashes=hashes)
    return finalize(student_dir, student_config)
