"""Wire schemas of the HTTP API. They wrap the core's result types, so either can change alone."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from model.bias import BiasHead
from model.linking import DATE_PATTERN, FIRST_YEAR, LAST_YEAR
from model.tasks import BiasTaskName
from model.types import ActorStance, Bias, Evidence

# -- requests ------------------------------------------------------------------------------------


def _valid_unicode(value: str) -> str:
    # JSON can carry lone UTF-16 surrogates ("\ud800"); they are not text and cannot be echoed back.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"contains an unpaired UTF-16 surrogate (\\u{ord(value[exc.start]):04x}) at character "
            f"{exc.start}, which is not valid Unicode"
        ) from None
    return value


Text = Annotated[str, AfterValidator(_valid_unicode)]
# The schema documents what the core checks (non-blank text without NUL characters); the core's own
# error says what was wrong. Blank means Python's whitespace (str.isspace, what .strip() removes),
# spelled out: a schema's \s is ECMAScript's, which differs (no \x1c-\x1f, \x85), and clients
# generate requests from the schema.
_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
InputText = Annotated[
    Text,
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$"}),
]
NAME_PATTERN = f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$"
Name = Annotated[
    Text, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN})
]


class ActorObject(BaseModel):
    """An actor with the surface forms that count as mentioning it."""

    model_config = ConfigDict(extra="forbid", title="ActorObject")

    name: Name = Field(description="Canonical name, e.g. 'Democratic National Committee'.")
    aliases: list[Name] = Field(
        default_factory=list,
        description="Other names, e.g. ['DNC']; one with no letter or digit is ignored (logged).",
    )
    exclude: list[Name] = Field(
        default_factory=list, description="Longer names that must not count, e.g. ['DNC chair']."
    )


def _actor_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "actor-name"
    if isinstance(value, dict | ActorObject):
        return "actor-object"
    return None


ActorSpec = Annotated[
    Annotated[Name, Tag("actor-name")] | Annotated[ActorObject, Tag("actor-object")],
    Discriminator(
        _actor_kind,
        custom_error_type="actor_type",
        custom_error_message="expected an actor name or an object with a 'name'",
    ),
]
"""An actor: a name ('DNC', looked up in the shipped alias registry) or an object with aliases."""
ActorList = Annotated[list[ActorSpec], Field(json_schema_extra={"minItems": 1})]


# The schema's pattern is the one :func:`model.linking.parse_year` checks: a request the schema
# allows is accepted, and one it refuses is refused with the core's own error.
DateSpec = (
    Annotated[Text, WithJsonSchema({"type": "string", "maxLength": 40, "pattern": DATE_PATTERN})]
    | Annotated[int, WithJsonSchema({"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR})]
    | None
)
"""An article's publication date: "2016-07-25", "2016-07-25T14:30:00Z", "2016" or 2016."""
DATE_HELP = (
    "an ISO date ('2016-07-25'), an ISO date and time ('2016-07-25T14:30:00Z') or a year ('2016' or "
    "2016, within 1900..2100). Its year decides who time-bound titles such as 'the Speaker' refer to; "
    "default: the year the text names most."
)

SAFE_INT = 2**53 - 1
"""Largest integer id: every JSON parser (JavaScript's too) reads integers up to here exactly, and so
does a schema-driven client; send larger ids as strings."""


class StanceItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[Text, Field(max_length=256)] | Annotated[int, Field(ge=-SAFE_INT, le=SAFE_INT)] | None = (
        Field(
            None,
            description="Your identifier (string, or integer within ±(2^53 - 1)), echoed back in the answer.",
        )
    )
    text: InputText = Field(
        description="Article, paragraph, tweet or sentence; HTML is accepted and cleaned."
    )
    actors: ActorList | None = Field(
        None,
        description="Actors to score in this text (at most `max_actors`); "
        "default: the request's `actors`, else discovered.",
    )
    date: DateSpec = Field(
        None, description="This text's publication date (default: the request's `date`): " + DATE_HELP
    )


class StanceRequest(BaseModel):
    """One text (``text``) or several (``items``), with the actors to score.

    Without actors, the people and organisations a text is about are discovered.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["text"]}, {"required": ["items"]}]}
    )

    text: InputText | SkipJsonSchema[None] = Field(
        None, description="A single text. Send either `text` or `items`."
    )
    items: Annotated[list[StanceItem], Field(json_schema_extra={"minItems": 1})] | SkipJsonSchema[None] = (
        Field(
            None,
            description="Several texts (at most `max_items`, see GET /v1/models), "
            "each with an optional id and actors.",
        )
    )
    actors: ActorList | None = Field(
        None, description="Actors for every text that does not name its own; leave out to discover them."
    )
    date: DateSpec = Field(
        None, description="Publication date of `text`, or of every item that gives none: " + DATE_HELP
    )
    evidence: int = Field(3, ge=0, le=10, description="Evidence sentences per actor.")
    score_unmentioned: StrictBool = Field(
        False, description="Also score actors that the text never mentions (true or false, not 0 or 1)."
    )
    discover_limit: int = Field(
        5, ge=1, le=20, description="Most actors discovered per text when none are given."
    )

    @model_validator(mode="after")
    def _text_or_items(self) -> StanceRequest:
        if (self.text is None) == (self.items is None):
            raise ValueError(
                "send either 'text' (one text) or 'items' (a list of texts), not both or neither"
            )
        return self


STANCE_EXAMPLES: dict[str, dict[str, Any]] = {
    "one text": {
        "summary": "One text, named actors",
        "value": {
            "text": "Senator Bernie Sanders accused the DNC of rigging the debate schedule to protect "
            "Hillary Clinton. The committee said the schedule was agreed with every campaign.",
            "actors": ["Bernie Sanders", "DNC", "Hillary Clinton"],
        },
    },
    "several texts": {
        "summary": "Several texts with ids; actors given per item or for all",
        "value": {
            "items": [
                {
                    "id": "a1",
                    "text": "Clinton's plan would finally fix health care.",
                    "actors": ["Hillary Clinton"],
                },
                {"id": "a2", "text": "The Democratic Party met in Philadelphia on Monday."},
            ],
            "actors": [{"name": "Democratic Party", "aliases": ["Democrats"]}],
            "evidence": 1,
        },
    },
    "discover actors": {
        "summary": "No actors: discover who the text is about",
        "value": {"text": "Donald Trump attacked Hillary Clinton at a rally in Ohio on Saturday."},
    },
}

# -- responses ------------------------------------------------------------------------------------


def _finite(probs: dict[str, float] | None) -> dict[str, float | None] | None:
    # JSON has no NaN; a non-finite probability is reported as null rather than crashing the response.
    if probs is None:
        return None
    return {k: (float(v) if math.isfinite(v) else None) for k, v in probs.items()}


class EvidenceOut(BaseModel):
    text: str = Field(description="The sentence, exactly as it appears in the input.")
    start: int = Field(description="Character offset of the sentence in the input text.")
    end: int
    label: str
    probabilities: dict[str, float | None]
    via: Literal["name", "title", "pronoun"] = Field(
        "name",
        description="How the sentence names the actor: by a name or alias, a title or description "
        '("the senator from Vermont", "the committee"), or only a pronoun.',
    )

    @classmethod
    def of(cls, ev: Evidence) -> EvidenceOut:
        return cls(
            text=ev.text,
            start=ev.start,
            end=ev.end,
            label=ev.label,
            probabilities=_finite(ev.probabilities) or {},
            via=ev.via,
        )


class MentionsVia(BaseModel):
    name: int = Field(0, description="Mentions by a name or alias.")
    title: int = Field(0, description='Mentions by a title or description ("the senator", "the committee").')
    pronoun: int = Field(0, description="Mentions by a pronoun (he, she, its) resolved to the actor.")


class ActorResult(BaseModel):
    actor: str = Field(description="Canonical actor name.")
    status: Literal["scored", "not_mentioned", "scored_unmentioned"]
    label: str | None = Field(description="against / neutral / favor; null when the actor is not mentioned.")
    probabilities: dict[str, float | None] | None
    mentions: int = Field(description="Mentions by name, title and pronoun (see mentions_via).")
    mentions_via: MentionsVia = Field(default_factory=MentionsVia)
    aliases_matched: list[str]
    evidence: list[EvidenceOut]
    windows: int = Field(description="Windows of text the classifier read for this actor.")
    level: Literal["sentence", "article"]
    salience: float | None = Field(
        None,
        description="For a discovered actor, how much the article is about it: its share (0 to 1) of the "
        "article's mentions, weighted for headline, lead and subject position; null for a named actor.",
    )

    @classmethod
    def of(cls, r: ActorStance) -> ActorResult:
        return cls(
            actor=r.actor,
            status=r.status,
            label=r.label,
            probabilities=_finite(r.probabilities),
            mentions=r.mentions,
            mentions_via=MentionsVia(**r.mentions_via),
            aliases_matched=list(r.aliases_matched),
            evidence=[EvidenceOut.of(e) for e in r.evidence],
            windows=r.windows,
            level=r.level,
            salience=r.salience,
        )


class ItemResult(BaseModel):
    id: str | int | None = Field(description="The item's id, or null (also for a single `text`).")
    actors: list[ActorResult]


class StanceResponse(BaseModel):
    model: str = Field(description="Name of the model that answered.")
    version: str
    items: list[ItemResult] = Field(description="One entry per input text, in request order.")


def _prob(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


class LeaningOut(BaseModel):
    label: str = Field(description="The most probable leaning: left, center or right.")
    probabilities: dict[str, float | None] = Field(description="Probability of each leaning.")


class FlaggedSentenceOut(BaseModel):
    text: str = Field(description="The sentence, exactly as it appears in the input.")
    start: int = Field(description="Character offset of the sentence in the input text.")
    end: int
    probability: float | None = Field(description="Probability that the sentence uses loaded language.")


class LoadedLanguageOut(BaseModel):
    sentences: list[FlaggedSentenceOut] = Field(
        description="The sentences at or above `threshold`, in text order."
    )
    scored: int = Field(description="Sentences the head read.")
    threshold: float = Field(description="The probability at which a sentence is flagged.")
    share: float = Field(description="Flagged sentences / sentences read.")


class BiasOut(BaseModel):
    """The bias heads' reading of one text; a field is null when its head is not loaded."""

    leaning: LeaningOut | None = Field(description="Political leaning of the article (leaning head).")
    hyperpartisan: float | None = Field(
        description="Probability (0 to 1) that the text is hyperpartisan (hyperpartisan head)."
    )
    loaded_language: LoadedLanguageOut | None = Field(
        description="Sentences with loaded (biased) wording (optional loaded-language head)."
    )
    sentences: int = Field(description="Sentences the heads read (0 for a text with no prose left).")

    @classmethod
    def of(cls, b: Bias) -> BiasOut:
        loaded = b.loaded_language
        return cls(
            leaning=LeaningOut(label=b.leaning.label, probabilities=_finite(b.leaning.probabilities) or {})
            if b.leaning is not None
            else None,
            hyperpartisan=_prob(b.hyperpartisan),
            loaded_language=LoadedLanguageOut(
                sentences=[
                    FlaggedSentenceOut(
                        text=x.text, start=x.start, end=x.end, probability=_prob(x.probability)
                    )
                    for x in loaded.sentences
                ],
                scored=loaded.scored,
                threshold=loaded.threshold,
                share=loaded.share,
            )
            if loaded is not None
            else None,
            sentences=b.sentences,
        )


class AnalysisItem(BaseModel):
    id: str | int | None = Field(description="The item's id, or null (also for a single `text`).")
    stance: list[ActorResult] = Field(description="Each actor's stance, as `actors` in /v1/stance.")
    bias: BiasOut | None = Field(description="The text's bias; null when the model has no bias heads.")


class AnalyzeResponse(BaseModel):
    model: str = Field(description="Name of the model that answered.")
    version: str
    items: list[AnalysisItem] = Field(description="One entry per input text, in request order.")


class Limits(BaseModel):
    max_body_bytes: int
    max_items: int
    max_text_chars: int
    max_actors: int
    max_batch_texts: int
    queue_size: int


class HeadInfo(BaseModel):
    """A bias head: a small classifier over the stance model's encoder (see /v1/analyze)."""

    task: BiasTaskName
    level: Literal["article", "sentence"] = Field(
        description="article: one answer per text; sentence: every sentence scored."
    )
    labels: list[str]
    licence: str = Field(description="Licence of the head's training data, which binds the head.")
    metrics: dict[str, Any] | None = Field(description="The head's dev-set evaluation, if recorded.")
    path: str = Field(description="The head's directory on the server.")

    @classmethod
    def of(cls, head: BiasHead) -> HeadInfo:
        dev = head.info.get("dev")
        return cls(
            task=head.task,
            level=head.level,
            labels=list(head.labels),
            licence=head.licence,
            metrics=json_safe(dev) if isinstance(dev, dict) else None,
            path=head.path,
        )


class ModelInfo(BaseModel):
    name: str
    version: str
    labels: list[str]
    base_model: str
    max_length: int
    max_windows: int
    backend: str = Field(description="Where the forward pass runs: torch, onnx or onnx-int8.")
    created: str
    metrics: dict[str, Any] | None = Field(
        description="The model's dev-set evaluation report, if it has one."
    )
    registry_version: str | None = Field(
        None, description="The model registry's version being served (e.g. 'r3'), or null when not from it."
    )
    heads: list[HeadInfo] = Field(
        default_factory=list, description="The bias heads loaded with the model (/v1/analyze); empty: none."
    )


class Notice(BaseModel):
    """Something the operator and the users of this server must know: a licence obligation, an
    optional bias head left out because it was fitted on another encoder (refit it), or an earlier
    model version serving because the promoted one does not load (fix or roll back the registry)."""

    kind: Literal["licence", "head_skipped", "model_fallback"]
    about: str = Field(description="What the notice is about, e.g. 'bias head loaded_language'.")
    licence: str
    message: str
    source: str | None = Field(
        description="Where the corresponding source is offered (SLANT_SOURCE_URL); null when not set."
    )


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    limits: Limits
    notices: list[Notice] = Field(
        default_factory=list,
        description="Licence obligations of what is loaded (AGPL-3.0 section 13 for an AGPL head).",
    )


class HealthResponse(BaseModel):
    status: Literal["ok", "ready"]
    model: str | None = None
    version: str | None = None


class ErrorDetail(BaseModel):
    code: str = Field(
        description="Machine-readable: invalid_input, input_too_large, unauthorized, overloaded, ..."
    )
    message: str = Field(description="What was expected and what was found.")
    field: str | None = Field(description="The request field at fault, e.g. 'items[3].text'.")
    fix: str | None = Field(description="How to fix it.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot carry) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
