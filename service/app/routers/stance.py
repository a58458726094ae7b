"""POST /v1/stance (stance of texts toward actors) and POST /v1/analyze (stance plus the text's
bias), both through the micro-batcher with the same request, limits and errors."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from model.actors import Actor, parse_actors
from model.errors import InputTooLargeError, InvalidInputError
from model.linking import parse_year
from model.text import check_text

from ..batcher import BatchResult, Options
from ..errors import ClientClosedError
from ..routing import GuardedRoute
from ..schemas import (
    STANCE_EXAMPLES,
    ActorResult,
    AnalysisItem,
    AnalyzeResponse,
    BiasOut,
    ItemResult,
    StanceItem,
    StanceRequest,
    StanceResponse,
)
from ..settings import Settings
from ..state import ReadyDep, ServiceState
from .responses import errors

router = APIRouter(route_class=GuardedRoute, tags=["stance"])


@router.post(
    "/stance",
    response_model=StanceResponse,
    summary="Stance of texts toward named actors",
    responses=errors(401, 408, 413, 415, 422, 429, 503),
)
async def stance(
    body: Annotated[StanceRequest, Body(openapi_examples=STANCE_EXAMPLES)],
    request: Request,
    response: Response,
    state: ReadyDep,
) -> StanceResponse:
    """Label each text's stance (against / neutral / favor) toward each actor, with evidence sentences.

    Send `{"text": ..., "actors": [...]}` for one text or `{"items": [{"id", "text", "actors"}, ...]}`
    for several. Actors are names (looked up in the alias registry) or `{"name", "aliases"}` objects;
    leave them out to discover who each text is about. Long articles are read in windows around
    each mention; an actor that the text never mentions comes back as `not_mentioned`. `date` (an
    ISO date or a year, per item or for the request) is the text's publication date: its year
    decides who time-bound titles such as "the Speaker" mean (default: the year the text names most).

    Requests are micro-batched with other concurrent requests. `X-Queue-Time-Ms` and
    `X-Inference-Time-Ms` say where the time went.
    """
    ids, result, (model, version) = await _run(body, request, response, state, bias=False)
    return StanceResponse(
        model=model,
        version=version,
        items=[
            ItemResult(id=i, actors=[ActorResult.of(r) for r in res])
            for i, res in zip(ids, result.results, strict=True)
        ],
    )


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    summary="Stance toward actors and the text's bias (leaning, hyperpartisan, loaded language)",
    responses=errors(401, 408, 413, 415, 422, 429, 503),
)
async def analyze(
    body: Annotated[StanceRequest, Body(openapi_examples=STANCE_EXAMPLES)],
    request: Request,
    response: Response,
    state: ReadyDep,
) -> AnalyzeResponse:
    """Everything /v1/stance answers, plus what the model's bias heads read in each text.

    The request is the one /v1/stance takes. Each item has `stance` (the actor results of
    /v1/stance) and `bias`: the article's `leaning` (left / center / right, with probabilities),
    the probability that it is `hyperpartisan`, and, when the optional loaded-language head is
    loaded, the `loaded_language` sentences with their offsets. A field of `bias` is null when its
    head is not loaded, and `bias` is null when the model has no bias heads (see GET /v1/models).

    One encoder pass serves stance and bias, micro-batched with concurrent /v1/stance requests.
    """
    ids, result, (model, version) = await _run(body, request, response, state, bias=True)
    biases = result.bias or [None] * len(ids)
    return AnalyzeResponse(
        model=model,
        version=version,
        items=[
            AnalysisItem(
                id=i,
                stance=[ActorResult.of(r) for r in res],
                bias=BiasOut.of(b) if b is not None else None,
            )
            for i, res, b in zip(ids, result.results, biases, strict=True)
        ],
    )


async def _run(
    body: StanceRequest, request: Request, response: Response, state: ServiceState, *, bias: bool
) -> tuple[list[Any], BatchResult, tuple[str, str]]:
    """Validate, queue and await one request; set the timing headers. Returns the ids, the
    batch result and the (name, version) of the model that computed it."""
    assert state.batcher is not None and state.predictor is not None  # ReadyDep guarantees both
    ids, texts, actors, years = _validated(body, state.settings)
    options = Options(
        evidence=body.evidence, score_unmentioned=body.score_unmentioned, discover_limit=body.discover_limit
    )
    future = state.batcher.submit(texts, actors, options, bias=bias, years=years)
    result = await _await_result(future, request)
    response.headers["X-Queue-Time-Ms"] = f"{result.queue_ms:.1f}"
    response.headers["X-Inference-Time-Ms"] = f"{result.inference_ms:.1f}"
    response.headers["X-Batch-Texts"] = str(result.batch_texts)
    # The model that computed this batch: after a hot swap it can differ from state.predictor.
    return ids, result, (result.model or state.predictor.name, result.version or state.predictor.version)


def _validated(
    body: StanceRequest, settings: Settings
) -> tuple[list[Any], list[str], list[list[Actor] | None], list[int | None]]:
    """Check every text, actor list and date before queueing, so one bad request never fails a batch.

    The actors come back parsed: the predictor takes :class:`~model.actors.Actor` objects as they
    are, so a request is validated once, here; likewise each date, as its year (None: none given).
    """
    single = body.items is None
    items = [StanceItem(text=body.text or "")] if body.items is None else body.items
    if not items:
        raise InvalidInputError("items is an empty list", field="items", fix="send at least one item")
    if len(items) > settings.max_items:
        raise InputTooLargeError(
            f"{len(items):,} items in one request; the limit is {settings.max_items}",
            field="items",
            fix=f"send at most {settings.max_items} items per request",
        )
    ids: list[Any] = []
    texts: list[str] = []
    actors: list[list[Actor] | None] = []
    shared_year = parse_year(body.date, field="date")
    years = [shared_year] * len(items)
    shared: list[Actor] | None = None  # the request's actors, parsed once for every item using them
    for i, item in enumerate(items):
        where = "" if single else f"items[{i}]."
        texts.append(check_text(item.text, field=f"{where}text", max_chars=settings.max_text_chars))
        ids.append(item.id)
        if item.date is not None:
            years[i] = parse_year(item.date, field=f"{where}date")
        if item.actors is not None:
            actors.append(_parsed(item.actors, f"{where}actors", settings))
        elif body.actors is not None:
            shared = shared if shared is not None else _parsed(body.actors, "actors", settings)
            actors.append(shared)
        else:
            actors.append(None)
    return ids, texts, actors, years


def _parsed(spec: list[Any], field: str, settings: Settings) -> list[Actor]:
    """One text's actor list (names or ``ActorObject``), checked against the limit and parsed."""
    if len(spec) > settings.max_actors:
        raise InputTooLargeError(
            f"{len(spec)} actors; the limit is {settings.max_actors}",
            field=field,
            fix="send fewer actors per text",
        )
    return parse_actors([a if isinstance(a, str) else a.model_dump() for a in spec], field=field)


async def _await_result(future: asyncio.Future[BatchResult], request: Request) -> BatchResult:
    """The batch result, or withdraw the job if the client disconnects first."""
    watcher: asyncio.Future[None] = asyncio.ensure_future(_disconnected(request))
    waiting: set[asyncio.Future[Any]] = {future, watcher}
    try:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        future.cancel()
        raise
    finally:
        watcher.cancel()
    if future not in done:
        future.cancel()
        raise ClientClosedError("the client closed the connection before the answer was ready")
    return future.result()


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next message the server sends is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
