"""Fine-tuning: a cross-encoder over (target, text) trained with the Hugging Face Trainer.

The Trainer sits on accelerate, so the same code runs on the CPU, one GPU, or several GPUs and
nodes with ``accelerate launch -m service.cli train --config ...``, with no code change.
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.heads import head_of, register, with_marker_head
from model.labels import STANCE_LABELS
from model.loading import ModelMeta, lineage, resolve_pretrained, save_model_dir
from model.windows import MARKERS, WindowBuilder, add_markers, token_fits

from .config import TrainConfig
from .data import RowTransform, load_mix
from .mil import BAG, model_scorer, select_windows

log = logging.getLogger(__name__)
_LABEL_ID = {label: i for i, label in enumerate(STANCE_LABELS)}


def _one_hot(label: str, labels: Sequence[str]) -> list[float]:
    return [1.0 if x == label else 0.0 for x in labels]


def _soft_target_trainer() -> type:
    from transformers import Trainer

    class SoftTargetTrainer(Trainer):
        """Cross-entropy against a probability distribution per row (a teacher's, or one-hot)."""

        # The loss is computed here, per batch: the Trainer must scale it for gradient accumulation.
        model_accepts_loss_kwargs = False

        def compute_loss(  # type: ignore[override]
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, **_: Any
        ) -> Any:
            target = inputs.pop("soft_labels")
            inputs.pop("labels", None)
            out = model(**inputs)
            loss = -(target * out.logits.float().log_softmax(-1)).sum(-1).mean()
            return (loss, out) if return_outputs else loss

    return SoftTargetTrainer


def build_training_rows(
    config: TrainConfig, *, transform: RowTransform | None = None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The mixed, shuffled training rows and the content hash of every source (``transform``: as
    :func:`training.data.load_mix`)."""
    rows, hashes = load_mix(config.train, config.data_root, transform=transform)
    random.Random(config.seed).shuffle(rows)
    return rows, hashes


def fine_tune(
    config: TrainConfig,
    *,
    output_dir: str | Path | None = None,
    rows: list[dict[str, Any]] | None = None,
    data_hashes: dict[str, str] | None = None,
    callbacks: list[Any] | None = None,
    window_length: int | None = None,
    bag_top_k: int = 2,
) -> Path:
    """Fine-tune ``config.base_model`` on ``config.train`` and write a model directory.

    Returns the directory. Evaluation and the article aggregator are added by
    :func:`training.pipeline.finalize`; ``slant train`` runs both steps. ``rows`` (with their
    ``data_hashes``) replaces the rows of ``config.train``: ``slant retrain`` mixes in labels.
    ``callbacks`` are Hugging Face ``TrainerCallback`` objects (progress reports).
    ``window_length`` is the serving length windows are built for, when training examples are cut
    shorter (``slant retrain --max-length``); default ``config.max_length``. Rows that carry a bag
    number (:data:`training.mil.BAG`: article labels, ``slant retrain --article-windows top``) train
    on their ``bag_top_k`` most label-like windows only (:func:`training.mil.select_windows`).
    """
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    out = Path(output_dir or config.output_dir)
    set_seed(config.seed)
    if rows is None:
        rows, hashes = build_training_rows(config)
    else:
        hashes = dict(data_hashes or {})
    model, tokenizer = _load_base(config)
    # The predictor's own window builder: short rows are one window, articles one per mention.
    builder = WindowBuilder(
        token_fits(tokenizer, window_length or config.max_length),
        max_windows=config.aggregator.max_windows,
        fmt=config.window_format,
    )
    n_rows = len(rows)
    windows = builder.examples(rows)
    log.info("%d labelled rows -> %d windows (format %d)", n_rows, len(windows), config.window_format)
    if any(w.get(BAG) is not None for w in windows):
        n_windows = len(windows)
        scorer = model_scorer(model, tokenizer, max_length=config.max_length)
        windows = select_windows(windows, scorer, top_k=bag_top_k)
        log.info(
            "article labels: %d -> %d windows (top %d per sided article)", n_windows, len(windows), bag_top_k
        )
    # Distillation rows carry a teacher's probabilities ("soft", in STANCE_LABELS order); then every
    # row trains on a distribution (gold rows on their one-hot label).
    soft = any("soft" in r for r in windows)
    trainer = (_soft_target_trainer() if soft else Trainer)(
        model=model,
        args=_training_args(config, out, soft=soft),
        train_dataset=_encode(windows, tokenizer, max_length=config.max_length, soft=soft),
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=callbacks,
    )
    started = _dt.datetime.now(_dt.UTC)
    result = trainer.train()
    if not trainer.is_world_process_zero():
        return out
    trained = trainer.model
    assert trained is not None
    train_metrics = {
        "rows": n_rows,
        "windows": len(windows),
        "steps": result.global_step,
        "loss": round(float(result.training_loss), 4),
        "seconds": round(result.metrics.get("train_runtime", 0.0), 1),
        "device": _device(),
        "head": head_of(trained),
    }
    meta = _model_meta(config, started=started, hashes=hashes, train_metrics=train_metrics)
    save_model_dir(out, trained.to("cpu"), tokenizer, meta, fp16=config.fp16_weights)  # type: ignore[arg-type]
    shutil.rmtree(out / "_trainer", ignore_errors=True)
    return out


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load_base(config: TrainConfig) -> tuple[Any, Any]:
    """The base model (fp32, 3 labels) and its tokenizer, with the markers and head ``config`` asks for."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    labels = list(STANCE_LABELS)
    base = resolve_pretrained(config.base_model)
    register()  # a base that is a marker-head slant model opens through the Auto classes
    tokenizer = AutoTokenizer.from_pretrained(base)
    # fp32 master weights: fp16 parameters under AdamW diverge; bf16 autocast is used on GPUs.
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=dict(_LABEL_ID),
        dtype=torch.float32,
    )
    if config.window_format == 2 and add_markers(tokenizer, model):
        log.info("added the [TGT] marker tokens to the tokenizer (%d tokens)", len(tokenizer))
    if config.head == "markers" and head_of(model) != "markers":
        model = with_marker_head(model, tokenizer.get_vocab()[MARKERS[0]])
        log.info("classifier head: pooled CLS + mean [TGT] marker state (the marker half starts at 0)")
    return model, tokenizer


def _encode(windows: list[dict[str, Any]], tokenizer: Any, *, max_length: int, soft: bool) -> Any:
    """The windows as a tokenised ``datasets.Dataset`` of (target, text) pairs with their labels."""
    from datasets import Dataset

    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        enc = tokenizer(batch["target"], batch["text"], truncation="only_second", max_length=max_length)
        enc["labels"] = [_LABEL_ID[x] for x in batch["label"]]
        if soft:
            enc["soft_labels"] = batch["soft"]
        return enc

    keep = ("text", "target", "label", "dataset")
    records = [{k: r[k] for k in keep} for r in windows]
    if soft:
        for rec, r in zip(records, windows, strict=True):
            rec["soft"] = (
                [float(x) for x in r["soft"]] if "soft" in r else _one_hot(r["label"], STANCE_LABELS)
            )
    return Dataset.from_list(records).map(encode, batched=True, remove_columns=list(records[0]))


def _training_args(config: TrainConfig, out: Path, *, soft: bool) -> Any:
    """The Trainer's arguments from ``config.training`` (no checkpoints, no evaluation, bf16 on GPUs)."""
    import torch
    from transformers import TrainingArguments

    h = config.training
    return TrainingArguments(
        output_dir=str(out / "_trainer"),
        num_train_epochs=h.epochs,
        max_steps=h.max_steps,
        per_device_train_batch_size=h.batch_size,
        gradient_accumulation_steps=h.grad_accum,
        learning_rate=h.learning_rate,
        weight_decay=h.weight_decay,
        warmup_steps=h.warmup_ratio,  # a value below 1 is a fraction of all steps
        label_smoothing_factor=h.label_smoothing,
        lr_scheduler_type="linear",
        # Batches of similar length waste little compute on padding; tweets and news sentences differ a lot.
        train_sampling_strategy="group_by_length",
        logging_steps=h.logging_steps,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=config.seed,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        dataloader_num_workers=0,
        disable_tqdm=True,
        remove_unused_columns=not soft,
    )


def _model_meta(
    config: TrainConfig, *, started: _dt.datetime, hashes: dict[str, str], train_metrics: dict[str, Any]
) -> ModelMeta:
    """What ``slant.json`` records about a freshly trained model (before evaluation adds its metrics)."""
    root_base, parents = lineage(config.base_model)
    return ModelMeta(
        labels=list(STANCE_LABELS),
        base_model=root_base,
        parents=parents,
        max_length=config.max_length,
        name=config.name,
        version=config.version,
        created=started.isoformat(timespec="seconds"),
        data_hashes=hashes,
        training_config=config.model_dump(mode="json"),
        window_format=config.window_format,
        metrics={"train": train_metrics},
    )
