"""The label tasks as data: stance, and one declaration per bias head.

Every layer reads this table (the label store, the bias heads, fitting, evaluation, retraining, the
HTTP schemas and the CLI): adding a bias task is adding a :class:`TaskSpec` here and its data reader
in :mod:`training.bias` (``READERS``), not a branch in each of them.

>>> TASK_SPECS["hyperpartisan"].positive, BIAS_TASKS["loaded_language"].level
('hyperpartisan', 'sentence')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

#: How a held-out dev split is scored.
HELD_OUT = "held-out split"
#: How a task without a validation split is scored.
CROSS_VALIDATED = "cross-validation, 5 folds grouped by site"


@dataclass(frozen=True)
class TaskSpec:
    """One label task: what it labels, its labels, and (bias tasks) how its head is fitted and judged."""

    name: str
    #: ``window``: stance toward an actor; ``article``: one answer per text; ``sentence``: every sentence.
    level: Literal["window", "article", "sentence"]
    #: Canonical labels, in the order a head's outputs use.
    labels: tuple[str, ...]
    #: Raw label (lower-cased, spaces collapsed) -> canonical label.
    synonyms: Mapping[str, str] = field(default_factory=dict)
    #: Binary tasks: the label whose probability is the head's score.
    positive: str | None = None
    #: Whether JSON booleans are labels (``true``: ``positive``), as the SemEval files write them.
    booleans: bool = False
    #: Licence of the training data, which binds the head fitted on it.
    licence: str = ""
    #: What the head is fitted on and how its dev split is made (the head's card says it).
    data: str = ""
    #: How the dev numbers are made: ``HELD_OUT`` or ``CROSS_VALIDATED``.
    dev: str = HELD_OUT
    #: The files under the shared data folder that fitting reads.
    data_files: tuple[str, ...] = ()
    #: Whether stored labels of this task retrain a model's own head in ``slant retrain``.
    retrain: bool = False
    #: The training data's short name, as messages and default directory names use it.
    source: str = ""
    #: Whether the head is kept out of model directories (its data licence asks for it).
    kept_apart: bool = False

    @property
    def is_bias(self) -> bool:
        return self.level != "window"

    @property
    def licence_id(self) -> str:
        """The licence's identifier, e.g. ``AGPL-3.0``."""
        return self.licence.split(" ", 1)[0]

    @property
    def title(self) -> str:
        """The task's name in prose, e.g. ``loaded-language``."""
        return self.name.replace("_", "-")

    @property
    def own_dir(self) -> str:
        """Where a head kept apart goes by default, e.g. ``models/loaded-language-babe``."""
        return f"models/{self.title}-{self.source.lower()}"


STANCE = TaskSpec(
    name="stance",
    level="window",
    labels=("against", "neutral", "favor"),
    synonyms={
        "against": "against",
        "negative": "against",
        "con": "against",
        "neutral": "neutral",
        "none": "neutral",
        "neither": "neutral",
        "favor": "favor",
        "favour": "favor",
        "positive": "favor",
        "pro": "favor",
    },
)

_BIAS = (
    TaskSpec(
        name="leaning",
        level="article",
        labels=("left", "center", "right"),
        synonyms={"left": "left", "center": "center", "centre": "center", "right": "right"},
        licence="Apache-2.0 (Article-Bias-Prediction data, Baly et al. 2020)",
        data="Article-Bias-Prediction (AllSides), title + body, media split: trained on `train`, "
        "dev = `valid` (no outlet in both; 1,640 left, 618 center, 98 right)",
        dev=HELD_OUT,
        data_files=(
            "article_bias_prediction/articles_index.jsonl",
            "article_bias_prediction/articles.jsonl.xz",
        ),
        retrain=True,
        source="Article-Bias-Prediction",
    ),
    TaskSpec(
        name="hyperpartisan",
        level="article",
        labels=("not_hyperpartisan", "hyperpartisan"),
        synonyms={
            "hyperpartisan": "hyperpartisan",
            "not_hyperpartisan": "not_hyperpartisan",
            "not-hyperpartisan": "not_hyperpartisan",
            "not hyperpartisan": "not_hyperpartisan",
            "true": "hyperpartisan",
            "false": "not_hyperpartisan",
            "yes": "hyperpartisan",
            "no": "not_hyperpartisan",
        },
        positive="hyperpartisan",
        booleans=True,
        licence="no licence stated upstream (SemEval-2019 Task 4 by-article data, Kiesel et al. 2019)",
        data="SemEval-2019 Task 4 by-article, the training articles; dev = stratified 5-fold "
        "cross-validation grouped by web site (there is no validation split)",
        dev=CROSS_VALIDATED,
        data_files=("hyperpartisan_semeval2019/hyperpartisan_byarticle.jsonl",),
        retrain=True,
        source="SemEval-2019",
    ),
    TaskSpec(
        name="loaded_language",
        level="sentence",
        labels=("non-biased", "biased"),
        synonyms={
            "biased": "biased",
            "non-biased": "non-biased",
            "non_biased": "non-biased",
            "non biased": "non-biased",
            "not biased": "non-biased",
            "unbiased": "non-biased",
        },
        positive="biased",
        licence="AGPL-3.0 (BABE data, Spinde et al. 2021): see the head's README before serving it",
        data="BABE SG2 (expert labels) + SG1; dev = a fixed 20% of SG2 by sentence id, never trained on",
        dev=HELD_OUT,
        data_files=("babe/babe.jsonl",),
        source="BABE",
        kept_apart=True,
    ),
)

BIAS_TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _BIAS}
"""The bias tasks by name, in the order heads are listed."""
TASK_SPECS: dict[str, TaskSpec] = {STANCE.name: STANCE, **BIAS_TASKS}
"""Every label task by name: stance first, then the bias tasks."""
RETRAIN_TASKS: tuple[str, ...] = tuple(name for name, spec in TASK_SPECS.items() if spec.retrain)
"""The bias tasks whose stored labels ``slant retrain`` refits a model's own heads on."""


def task_literal(names: tuple[str, ...]) -> Any:
    """``Literal[*names]`` for pydantic schemas (an enum in the OpenAPI document)."""
    return Literal.__getitem__(names)


if TYPE_CHECKING:
    BiasTaskName = str
    LabelTaskName = str
    RetrainTaskName = str
else:
    BiasTaskName = task_literal(tuple(BIAS_TASKS))
    LabelTaskName = task_literal(tuple(TASK_SPECS))
    RetrainTaskName = task_literal(("stance", *RETRAIN_TASKS))
