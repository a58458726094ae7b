"""The distillation recipe end to end on tiny models: teacher, windows, soft labels, student."""

import json

from model import StancePredictor
from training.config import TrainConfig
from training.distill import distill, mention_windows, soft_labels
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
    (tmp_path / "three.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    teacher_dir = fine_tune(_config(tmp_path, tiny_model_dir, "t"), output_dir=tmp_path / "t")
    teacher = StancePredictor.load(teacher_dir, backend="torch")
    rows = mention_windows(teacher, [article], actors_per_text=2)
    labelled = soft_labels(teacher, rows)
    pairs = teacher.windows.examples([{**r, "label": "neutral"} for r in rows])
    direct = teacher.score_pairs([p["target"] for p in pairs], [p["text"] for p in pairs])
    for r, p in zip(labelled, direct, strict=True):
        assert max(abs(float(a) - b) for a, b in zip(p, r["soft"], strict=True)) < 1e-4
