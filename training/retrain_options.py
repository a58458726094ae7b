"""The settings of a retrain, kept apart from :mod:`training.retrain` so that the HTTP service can
validate a ``POST /v1/retrain`` body without importing the training stack."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from model.tasks import RetrainTaskName

LabelTask = RetrainTaskName


class RetrainSettings(BaseModel):
    """What a caller may choose about one retrain; every field has a default."""

    model_config = ConfigDict(extra="forbid")

    config: str | None = Field(
        None,
        description="Training config for the base mix and eval sets, e.g. "
        "'training/configs/default-stage4.yaml'; default: the config recorded in the current model.",
    )
    overrides: list[str] = Field(default_factory=list, description="Config settings, 'key.sub=value'.")
    from_base: bool = Field(False, description="Fine-tune the base encoder instead of the current model.")
    base_rows: int | None = Field(None, ge=0, description="Subsample the base mix (0: labels only).")
    epochs: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, gt=0)
    batch_size: int | None = Field(None, gt=0)
    learning_rate: float | None = Field(None, gt=0)
    eval_rows: int | None = Field(None, gt=0, description="At most this many rows of each eval set.")
    max_length: int | None = Field(None, ge=16, le=512, description="Truncate training examples.")
    label_share: float = Field(0.2, ge=0, lt=1, description="Labels make up at least this share per epoch.")
    max_repeat: int = Field(50, ge=1, description="Repeat each label at most this often per epoch.")
    holdout: float = Field(0.2, gt=0, lt=1, description="Share of labelled texts held back for the gate.")
    tolerance: float = Field(1.0, ge=0, description="macro-F1 points a fixed eval set may lose.")
    min_gain: float = Field(0.0, ge=0, description="macro-F1 points the held-back labels must gain beyond.")
    promote: bool = Field(True, description="Promote the new version when it passes the gate.")
    refit_aggregator: bool = False
    aggregator_only: bool = Field(
        False,
        description="Stance labels refit the article aggregator only (on the config's aggregator data plus "
        "the labels long enough to be articles), through the current model's windows: the encoder is "
        "copied, not fine-tuned. For labels of whole articles whose notion of stance differs from the base "
        "mix's; labels of single windows teach it nothing.",
    )
    article_windows: Literal["all", "top"] = Field(
        "top",
        description="How a label on a whole article teaches the windows: 'top' trains on the article_top_k "
        "windows the current model finds most in favour of the label (all windows of a neutral article), "
        "'all' gives every window the label (training/mil.py).",
    )
    article_top_k: int = Field(2, ge=1, le=16, description="Windows per sided article with 'top'.")
    parent_weight: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Average the fine-tuned weights with the current model's, this share the current's "
        "(WiSE-FT, training/soup.py), before calibration, aggregator and gate; 0: no averaging.",
    )
    seed: int | None = None
    tasks: list[LabelTask] | None = Field(
        None,
        description="Retrain on these tasks' labels only (default: every task with labels). Without "
        "'stance' the encoder is not fine-tuned: the model is copied and only the bias heads are refitted.",
    )
    bias_train_rows: int | None = Field(
        None,
        ge=1,
        description="Leaning head: refit on N sampled training articles (default: as many as the current "
        "head was fitted on). Encoding them is the cost of a refit on a CPU.",
    )
    bias_data_root: str | None = Field(
        None,
        description="Shared data folder the bias heads are refitted and scored on (default: the config's "
        "data_root, $SLANT_DATA_ROOT or ../shared/data).",
    )


class RetrainOptions(RetrainSettings):
    """Every setting of a retrain; ``slant retrain`` and ``POST /v1/retrain`` fill it in. Where the
    labels, the registry and the current model are is the caller's (the CLI's options, the server's
    settings), not a request's."""

    config_version: str | None = Field(
        None,
        description="Take the training config recorded in this registry version (when no config file is "
        "given; default: the current model's).",
    )
    database: str | None = Field(None, description="Label store and registry index (SLANT_DATABASE_URL).")
    registry: str | None = Field(None, description="Registry folder (SLANT_REGISTRY).")
    default_model: str | None = Field(None, description="Current model while nothing is promoted.")
