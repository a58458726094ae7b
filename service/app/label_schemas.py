"""Wire schemas of /v1/labels. They wrap the label store's types (``training.store``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from model.tasks import LabelTaskName
from training.store import LabelRecord, Outcome

from .schemas import InputText, Name, Text

LabelName = Annotated[
    Text,
    Field(
        description="stance: against, neutral or favor (also accepted: none, positive, negative, pro, "
        "con); leaning: left, center or right; hyperpartisan: hyperpartisan or not_hyperpartisan; "
        "loaded_language: biased or non-biased.",
        examples=["favor"],
    ),
]
Task = LabelTaskName
SourceRef = Annotated[Text, Field(max_length=2048, description="Where the text came from, e.g. its URL.")]


class PredictionIn(BaseModel):
    """The prediction that a label corrects, as /v1/stance returned it."""

    model_config = ConfigDict(extra="forbid")

    label: LabelName
    probabilities: dict[str, float] | None = Field(
        None, description="Probability of each label, e.g. {'against': 0.1, 'neutral': 0.2, 'favor': 0.7}."
    )
    model_version: Annotated[Text, Field(max_length=200)] | None = Field(
        None, description="The model that made it, e.g. its name and version from /v1/stance."
    )


class LabelItem(BaseModel):
    """One label: a stance toward an actor in a text, or a bias task's label of a whole text."""

    model_config = ConfigDict(extra="forbid")

    text: InputText = Field(description="The text that was labelled (stored once, however often labelled).")
    task: Task = Field(
        "stance",
        description="What the label is about: stance (toward `actor`), or a bias task of the whole text, "
        "which takes no actor: leaning (left / center / right), hyperpartisan, loaded_language (the text "
        "is one sentence).",
    )
    actor: Name | None = Field(
        None,
        description="The actor of a stance label (required for stance, absent for the bias tasks); "
        "registry aliases are stored under the canonical name.",
    )
    label: LabelName
    annotator: Name | None = Field(None, description="Who gave the label (default: the request's).")
    source: Literal["correction", "import"] = Field(
        "correction", description="A person correcting a prediction, or labels imported in bulk."
    )
    source_ref: SourceRef | None = None
    corrected_prediction: PredictionIn | None = Field(None, description="The prediction this label corrects.")


class LabelRequest(BaseModel):
    """One label (``text``, ``label``, and ``actor`` for a stance label) or several (``items``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["text", "label"]}, {"required": ["items"]}]},
    )

    text: InputText | SkipJsonSchema[None] = Field(None, description="One label's text. Or send `items`.")
    task: Task | SkipJsonSchema[None] = Field(
        None, description="One label's task (default stance); see the items' `task`."
    )
    actor: Name | SkipJsonSchema[None] = None
    label: LabelName | SkipJsonSchema[None] = None
    annotator: Name | None = Field(None, description="Who gave the label(s); items may name their own.")
    source: Literal["correction", "import"] | SkipJsonSchema[None] = None
    source_ref: SourceRef | SkipJsonSchema[None] = None
    corrected_prediction: PredictionIn | SkipJsonSchema[None] = None
    items: Annotated[list[LabelItem], Field(json_schema_extra={"minItems": 1})] | SkipJsonSchema[None] = (
        Field(
            None, description="Several labels (at most `max_items`), stored in one transaction: all or none."
        )
    )

    @model_validator(mode="after")
    def _one_or_items(self) -> LabelRequest:
        single = [
            f
            for f in ("text", "task", "actor", "label", "source", "source_ref", "corrected_prediction")
            if getattr(self, f) is not None
        ]
        if self.items is not None and single:
            raise ValueError(
                f"send either one label (text, actor, label) or 'items', not both; found {single[0]!r} "
                "beside 'items'"
            )
        if self.items is None and not {"text", "actor", "label"} & set(single):
            raise ValueError(
                "send either one label (text, actor, label) or 'items' (a list of labels); a bias label "
                "(task leaning, hyperpartisan or loaded_language) has no actor"
            )
        return self


LABEL_EXAMPLES: dict[str, dict[str, Any]] = {
    "one label": {
        "summary": "A correction of one prediction",
        "value": {
            "text": "Sanders told reporters that the DNC must stay neutral.",
            "actor": "DNC",
            "label": "neutral",
            "annotator": "alice",
            "corrected_prediction": {
                "label": "against",
                "probabilities": {"against": 0.61, "neutral": 0.30, "favor": 0.09},
                "model_version": "default-minilm 2",
            },
        },
    },
    "several labels": {
        "summary": "Several labels in one transaction",
        "value": {
            "annotator": "bob",
            "items": [
                {"text": "Go Bernie!", "actor": "Bernie Sanders", "label": "favor"},
                {"text": "The DNC rigged it.", "actor": "DNC", "label": "against", "source": "import"},
            ],
        },
    },
    "a bias label": {
        "summary": "The political leaning of a whole article (no actor)",
        "value": {
            "text": "Senate passes the budget after a late-night vote. ...",
            "task": "leaning",
            "label": "center",
            "annotator": "alice",
            "corrected_prediction": {
                "label": "left",
                "probabilities": {"left": 0.52, "center": 0.31, "right": 0.17},
                "model_version": "default-minilm 2",
            },
        },
    },
}


class LabelOutcome(BaseModel):
    status: Literal["stored", "duplicate", "conflict"] = Field(
        description="stored: new; duplicate: the same label is already current (not stored again); "
        "conflict: a different label was current; this one is stored and supersedes it."
    )
    label_id: int = Field(description="The stored label, or for a duplicate the existing label.")
    text_id: int
    task: Task
    actor: str | None = Field(description="Canonical actor name; null for a bias task's label.")
    label: str
    previous_label: str | None = Field(None, description="For a conflict: the label it supersedes.")
    previous_label_id: int | None = None

    @classmethod
    def of(cls, o: Outcome) -> LabelOutcome:
        return cls(
            status=o.status,
            label_id=o.label_id,
            text_id=o.text_id,
            task=o.task,  # type: ignore[arg-type]
            actor=o.actor,
            label=o.label,
            previous_label=o.previous_label,
            previous_label_id=o.previous_label_id,
        )


class LabelsWritten(BaseModel):
    batch_id: str = Field(description="Id of this write, recorded on every label it stored.")
    stored: int
    duplicates: int
    conflicts: int
    items: list[LabelOutcome] = Field(description="One entry per label, in request order.")


class LabelOut(BaseModel):
    id: int
    text_id: int
    text: str
    text_sha256: str = Field(description="SHA-256 of the normalised text (NFC, whitespace collapsed).")
    source_ref: str | None
    task: Task
    actor: str | None = Field(description="Canonical actor name; null for a bias task's label.")
    label: str
    annotator: str | None
    source: str
    corrected_prediction: dict[str, Any] | None
    model_version: str | None
    batch_id: str
    created_at: datetime
    current: bool = Field(
        description="False once a newer label for the same text, task and actor superseded it."
    )

    @classmethod
    def of(cls, r: LabelRecord) -> LabelOut:
        return cls(**r.__dict__)


class LabelsPage(BaseModel):
    items: list[LabelOut]
    total: int = Field(description="Labels matching the filters, over all pages.")
    limit: int
    offset: int
