"""POST /v1/labels stores labels (corrections, imports): stance toward an actor, or a bias task of a
whole text; GET /v1/labels lists them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query

from model.errors import InputTooLargeError, InvalidInputError
from training.store import LabelIn, canonical_actor, new_label
from training.store.store import label_filter

from ..label_schemas import (
    LABEL_EXAMPLES,
    LabelOut,
    LabelOutcome,
    LabelRequest,
    LabelsPage,
    LabelsWritten,
    Task,
)
from ..label_store import StoreHolder, store_holder
from ..routing import GuardedRoute
from ..schemas import NAME_PATTERN, ErrorResponse
from ..settings import Settings
from ..state import StateDep
from .responses import errors

router = APIRouter(route_class=GuardedRoute, tags=["labels"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorResponse,
        "description": "The label store cannot be opened or reached (SLANT_DATABASE_URL); "
        "retry after the seconds in Retry-After.",
    }
}
HolderDep = Annotated[StoreHolder, Depends(store_holder)]
# What the schema says of an actor filter; the label store's own check says what is wrong with one.
_NAME: dict[str, Any] = {"minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN}


@router.post(
    "/labels",
    response_model=LabelsWritten,
    summary="Store labels (stance, leaning, hyperpartisan, loaded language)",
    responses={**errors(401, 408, 413, 415, 422), **_UNAVAILABLE},
)
async def add_labels(
    body: Annotated[LabelRequest, Body(openapi_examples=LABEL_EXAMPLES)], state: StateDep, holder: HolderDep
) -> LabelsWritten:
    """Store one label (`{"text", "actor", "label"}`) or several (`{"items": [...]}`) in one transaction.

    `task` (default `stance`) says what a label is about. Stance labels need an `actor`, stored
    under its canonical name (`"Bernie"` -> `"Bernie Sanders"`), and are against / neutral / favor.
    The bias tasks label the whole text and take no actor: `leaning` (left / center / right),
    `hyperpartisan` (hyperpartisan / not_hyperpartisan), `loaded_language` (biased / non-biased; the
    text is one sentence), e.g. `{"text": ..., "task": "leaning", "label": "left"}`. A label that is
    not one of its task's is a 422 naming the valid ones.

    Each item comes back `stored`; `duplicate` when the same label is already the current one for
    that text, task and actor (nothing is stored); or `conflict` when a different label was current:
    the new one is stored, supersedes it and becomes current. A request with any invalid item
    stores nothing.
    """
    labels = _validated(body, state.settings)
    store = await asyncio.to_thread(holder.get)
    report = await asyncio.to_thread(store.add, labels)
    return LabelsWritten(
        batch_id=report.batch_id,
        stored=report.stored,
        duplicates=report.duplicates,
        conflicts=report.conflicts,
        items=[LabelOutcome.of(o) for o in report.outcomes],
    )


def _validated(body: LabelRequest, settings: Settings) -> list[LabelIn]:
    """Check and normalise every item before anything is written."""
    if body.items is None:
        stance = body.task in (None, "stance")
        for name in ("text", "actor", "label") if stance else ("text", "label"):
            if getattr(body, name) is None:
                raise InvalidInputError(
                    "this field is required",
                    field=name,
                    fix="send text, actor and label (or items); a bias label (task leaning, hyperpartisan "
                    "or loaded_language) has text, task and label, and no actor",
                )
        items: list[tuple[str, Any]] = [("", body)]
    else:
        if not body.items:
            raise InvalidInputError("items is an empty list", field="items", fix="send at least one label")
        if len(body.items) > settings.max_items:
            raise InputTooLargeError(
                f"{len(body.items):,} items in one request; the limit is {settings.max_items}",
                field="items",
                fix=f"send at most {settings.max_items} labels per request, or use `slant labels import`",
            )
        items = [(f"items[{i}].", item) for i, item in enumerate(body.items)]
    out: list[LabelIn] = []
    for where, item in items:
        pred = item.corrected_prediction
        out.append(
            new_label(
                text=item.text,
                task=item.task or "stance",
                actor=item.actor,
                label=item.label,
                annotator=item.annotator or body.annotator,
                source=item.source or "correction",
                source_ref=item.source_ref,
                corrected_prediction=pred.model_dump(exclude={"model_version"}, exclude_none=True)
                if pred
                else None,
                model_version=pred.model_version if pred else None,
                field=where,
                max_text_chars=settings.max_text_chars,
            )
        )
    return out


@router.get(
    "/labels",
    response_model=LabelsPage,
    summary="List stored labels",
    responses={**errors(401, 422), **_UNAVAILABLE},
)
async def list_labels(
    holder: HolderDep,
    task: Annotated[Task | None, Query(description="Only this task's labels.")] = None,
    actor: Annotated[
        str | None, Query(description="Only this actor (aliases resolve).", json_schema_extra=_NAME)
    ] = None,
    source: Annotated[Literal["correction", "import"] | None, Query(description="Only this source.")] = None,
    label: Annotated[
        str | None,
        Query(
            description="Only this label (of `task`, or of the first task that has it).",
            json_schema_extra={"minLength": 1},
        ),
    ] = None,
    annotator: Annotated[str | None, Query(max_length=200, description="Only this annotator.")] = None,
    batch_id: Annotated[str | None, Query(max_length=32, description="Only this write or import.")] = None,
    current: Annotated[
        bool, Query(description="Only current labels (the newest for each text and actor).")
    ] = False,
    order: Annotated[Literal["newest", "oldest"], Query(description="Newest or oldest first.")] = "newest",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> LabelsPage:
    """Labels with their texts, filtered, newest first, one page at a time (`limit`, `offset`).

    Superseded labels are included with `current: false` unless `current=true`.
    `slant labels export` writes the current labels as a training file.
    """
    canonical = canonical_actor(actor, field="actor") if actor is not None else None
    wanted = label_filter(label, task, field="label") if label is not None else None
    store = await asyncio.to_thread(holder.get)
    page = await asyncio.to_thread(
        store.labels,
        task=task,
        actor=canonical,
        source=source,
        label=wanted,
        annotator=annotator,
        batch_id=batch_id,
        current_only=current,
        newest_first=order == "newest",
        limit=limit,
        offset=offset,
    )
    return LabelsPage(
        items=[LabelOut.of(r) for r in page.items], total=page.total, limit=limit, offset=offset
    )
