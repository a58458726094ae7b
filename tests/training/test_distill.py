"""The distillation recipe end to end on tiny models: teacher, windows, soft labels, student."""

import json

import pytest

from model import StancePredictor
from model.errors import ConfigError
from model.labels import STANCE_LABELS
from training.config import TrainConfig
from training.distill import distill, mention_windows, rehearse, sample_windows, soft_labels
from training.train import fine_tune

ROWS = [
    {"target": "Bernie Sanders", "text": "Sanders is wonderful and honest", "label": "favor"},
    {"target": "Hillary Clinton", "text": "Clinton belongs in jail", "label": "against"},
    {"target": "DNC", "text": "The DNC met on Tuesday in a hotel", "label": "neutral"},
]


def _config(tmp_path, base, name):
    return TrainConfig.model_validate(
        {
            "name": name,
            "base_model": str(base),
            "max_length": 48,
            "data_root": str(tmp_path),
            "train": [{"name": "three", "path": "three.jsonl"}],
            "eval": [{"name": "three", "path": "three.jsonl"}],
            "training": {"epochs": 2, "batch_size": 4, "learning_rate": 1e-3, "logging_steps": 5},
            "fp16_weights": False,
        }
    )


def _trained_teacher(tmp_path, base):
    """A tiny teacher fine-tuned on ROWS (written to three.jsonl, which the configs read)."""
    (tmp_path / "three.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return fine_tune(_config(tmp_path, base, "t"), output_dir=tmp_path / "t")


def _distill_from(teacher_dir, student, tmp_path, texts, **options):
    """``distill`` with an already trained teacher model into ``tmp_path / "d"``."""
    return distill(
        teacher_config=None,
        student_config=student,
        output_dir=tmp_path / "d",
        texts=texts,
        teacher_model=teacher_dir,
        **options,
    )


def test_distill_runs_every_step_and_resumes(tmp_path, tiny_model_dir, article):
    (tmp_path / "three.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    teacher, student = (
        _config(tmp_path, tiny_model_dir, "teacher"),
        _config(tmp_path, tiny_model_dir, "student"),
    )
    out = distill(teacher_config=teacher, student_config=student, output_dir=tmp_path / "d", texts=[article])
    windows = [json.loads(x) for x in (tmp_path / "d" / "windows.jsonl").read_text().splitlines()]
    soft = [json.loads(x) for x in (tmp_path / "d" / "soft.jsonl").read_text().splitlines()]
    assert windows and len(soft) == len(windows)
    assert all("[TGT]" not in w["text"] and w["target"] for w in windows)  # re-marked when trained on
    assert all(abs(sum(r["soft"]) - 1) < 1e-3 and r["dataset"] == "distill" for r in soft)
    meta = json.loads((out / "slant.json").read_text())
    assert meta["window_format"] == 2 and "three" in meta["metrics"]["dev"]
    assert meta["metrics"]["train"]["rows"] == len(ROWS) + len(soft)
    # A second run reuses what the first wrote (teacher, windows, soft labels).
    stamp = (tmp_path / "d" / "soft.jsonl").stat().st_mtime_ns
    distill(teacher_config=teacher, student_config=student, output_dir=tmp_path / "d", texts=[article])
    assert (tmp_path / "d" / "soft.jsonl").stat().st_mtime_ns == stamp


def test_soft_labels_follow_the_teacher(tmp_path, tiny_model_dir, article):
    teacher_dir = _trained_teacher(tmp_path, tiny_model_dir)
    teacher = StancePredictor.load(teacher_dir, backend="torch")
    rows = mention_windows(teacher, [article], actors_per_text=2)
    labelled = soft_labels(teacher, rows)
    pairs = teacher.windows.examples([{**r, "label": "neutral"} for r in rows])
    direct = teacher.score_pairs([p["target"] for p in pairs], [p["text"] for p in pairs])
    for r, p in zip(labelled, direct, strict=True):
        assert max(abs(float(a) - b) for a, b in zip(p, r["soft"], strict=True)) < 1e-4


def test_a_trained_teacher_model_skips_step_one_and_max_windows_caps_the_sample(
    tmp_path, tiny_model_dir, article
):
    teacher_dir = _trained_teacher(tmp_path, tiny_model_dir)
    student = _config(tmp_path, tiny_model_dir, "student")
    texts = [article, article.replace("Sanders", "Warren")]
    out = _distill_from(teacher_dir, student, tmp_path, texts, max_windows=2)
    assert not (tmp_path / "d" / "teacher").exists()
    windows = (tmp_path / "d" / "windows.jsonl").read_text().splitlines()
    soft = [json.loads(x) for x in (tmp_path / "d" / "soft.jsonl").read_text().splitlines()]
    assert len(windows) > 2 and len(soft) == 2
    assert {r["text"] for r in soft} <= {json.loads(w)["text"] for w in windows}
    meta = json.loads((out / "slant.json").read_text())
    assert meta["metrics"]["train"]["rows"] == len(ROWS) + 2
    # A larger cap on a second run re-labels the new sample instead of reusing the old file.
    _distill_from(teacher_dir, student, tmp_path, [article], max_windows=3)
    assert len((tmp_path / "d" / "soft.jsonl").read_text().splitlines()) == 3


def test_sample_windows_is_seeded_and_keeps_short_lists_whole():
    rows = [{"text": str(i)} for i in range(50)]
    assert sample_windows(rows, None) == rows and sample_windows(rows, 80) == rows
    first, again = sample_windows(rows, 10), sample_windows(rows, 10)
    assert first == again and len(first) == 10 and first != rows[:10]


def test_a_teacher_model_that_is_not_a_slant_model_is_refused_with_a_fix(tmp_path, tiny_model_dir):
    student = _config(tmp_path, tiny_model_dir, "student")
    with pytest.raises(ConfigError, match="not a slant model directory") as info:
        _distill_from(tmp_path, student, tmp_path, ["x"])
    assert "slant train" in info.value.fix
    with pytest.raises(ConfigError, match="needs a teacher"):
        distill(teacher_config=None, student_config=student, output_dir=tmp_path / "d", texts=["x"])


def test_rehearse_blends_the_teachers_probabilities_into_short_rows_only(tiny_predictor, article):
    rows = [*ROWS, {"target": "Bernie Sanders", "text": article, "label": "favor"}]
    out = rehearse(tiny_predictor, rows, weight=0.25)
    pairs = tiny_predictor.windows.examples(ROWS)
    probs = tiny_predictor.score_pairs([p["target"] for p in pairs], [p["text"] for p in pairs])
    order = [tiny_predictor.labels.index(label) for label in STANCE_LABELS]
    for r, p in zip(out[:3], probs, strict=True):
        gold = STANCE_LABELS.index(r["label"])
        want = [0.25 * float(p[j]) + 0.75 * (k == gold) for k, j in enumerate(order)]
        assert max(abs(a - b) for a, b in zip(r["soft"], want, strict=True)) < 1e-4
        assert abs(sum(r["soft"]) - 1) < 1e-3
    assert "soft" not in out[3] and "soft" not in rows[0]  # an article keeps its label; input untouched
    with pytest.raises(ConfigError, match="not in"):
        rehearse(tiny_predictor, rows, weight=0)


def test_rehearsed_sources_train_on_blended_rows_and_unknown_names_are_refused(
    tmp_path, tiny_model_dir, article
):
    teacher_dir = _trained_teacher(tmp_path, tiny_model_dir)
    student = _config(tmp_path, tiny_model_dir, "student")
    with pytest.raises(ConfigError, match="not train sources") as info:
        _distill_from(teacher_dir, student, tmp_path, [article], rehearse_sources=["tweets"])
    assert "three" in info.value.fix
    out = _distill_from(teacher_dir, student, tmp_path, [article], rehearse_sources=["three"])
    meta = json.loads((out / "slant.json").read_text())
    assert meta["data_hashes"]["rehearse:three"] == "weight:0.5"
