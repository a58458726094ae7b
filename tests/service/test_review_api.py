"""The review page (GET / and its static files) and GET /v1/review/queue (uncertainty sampling)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from _api_fixtures import gated_fixture, serve_fixture  # noqa: F401  (fixtures)

from model.types import ActorStance, Evidence
from service.app.review_queue import PredictionCache, build_queue, uncertainty
from training.store import LabelStore, TextRecord, new_label

STATIC = Path(__file__).resolve().parents[2] / "service" / "app" / "static" / "review"

# text -> actor -> (against, neutral, favor); uncertainty = 1 - (top1 - top2)
SCRIPT: dict[str, dict[str, tuple[float, float, float]]] = {
    "Sanders spoke in Iowa.": {"Bernie Sanders": (0.1, 0.2, 0.7)},  # 0.5
    "The DNC met in Philadelphia.": {"Democratic National Committee": (0.4, 0.35, 0.25)},  # 0.95
    "Sanders and the DNC argued.": {
        "Bernie Sanders": (0.3, 0.3, 0.4),  # 0.9
        "Democratic National Committee": (0.9, 0.05, 0.05),  # 0.15
    },
    "Sanders spoke in Ohio.": {"Bernie Sanders": (0.6, 0.1, 0.3)},  # 0.7, labelled later
}


class ScriptedPredictor:
    """The tiny predictor's identity (name, version, meta) with scripted probabilities: an actor
    scripted for a text is scored, any other is not mentioned. Records the texts it predicts."""

    def __init__(self, inner: Any, script: dict[str, dict[str, tuple[float, float, float]]]) -> None:
        self.inner = inner
        self.script = script
        self.predicted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def predict(
        self,
        texts: list[str],
        actors: list[Any] | None = None,
        *,
        per_text_actors: list[Any] | None = None,
        evidence: int = 3,
        **_: Any,
    ) -> list[list[ActorStance]]:
        self.predicted.extend(texts)
        out = []
        for i, text in enumerate(texts):
            table = self.script.get(text, {})
            own = per_text_actors[i] if per_text_actors is not None else actors
            names = [a if isinstance(a, str) else a["name"] for a in own] if own is not None else list(table)
            out.append([self._result(text, name, table.get(name), evidence) for name in names])
        return out

    @staticmethod
    def _result(
        text: str, actor: str, probs: tuple[float, float, float] | None, evidence: int
    ) -> ActorStance:
        if probs is None:
            return ActorStance(
                actor=actor, status="not_mentioned", label=None, probabilities=None, mentions=0
            )
        p = dict(zip(("against", "neutral", "favor"), probs, strict=True))
        best = max(p, key=p.__getitem__)
        ev = [Evidence(text=text, start=0, end=len(text), label=best, probabilities=p)][:evidence]
        return ActorStance(
            actor=actor, status="scored", label=best, probabilities=p, mentions=1, evidence=ev, windows=1
        )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/labels.db"


@pytest.fixture
def scripted(tiny_predictor: Any) -> ScriptedPredictor:
    return ScriptedPredictor(tiny_predictor, SCRIPT)


def _label(text: str, actor: str, label: str) -> dict[str, Any]:
    return {"text": text, "actor": actor, "label": label, "source": "import"}


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "field", "fix"}
    return err


# -- the page ---------------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]


def test_page_and_its_assets_are_served_from_the_package(serve, tiny_predictor, db):
    with serve(tiny_predictor, database_url=db, api_keys=["k"]) as c:
        r = c.get("/")  # open like /docs: the page asks for the key and sends it with each API call
        assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>slant · review</title>" in r.text and 'id="api-key"' in r.text
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        links = _Links()
        links.feed(r.text)
        assert sorted(links.urls) == ["static/review/review.css", "static/review/review.js"]
        for url in links.urls:
            assert "//" not in url and ":" not in url, url  # no scheme, no host: nothing from a CDN
            asset = c.get("/" + url)
            assert asset.status_code == 200, url
            kind = "text/css" if url.endswith(".css") else "text/javascript"
            assert asset.headers["content-type"].startswith(kind)
            assert "http://" not in asset.text and "https://" not in asset.text
        missing = c.get("/static/review/nope.js")
        assert _error(missing, 404)["message"] == "no route GET /static/review/nope.js"
        assert "/" not in c.get("/openapi.json").json()["paths"]


def test_the_script_never_writes_html():
    """Article text and API answers reach the page as text nodes only (escaping by construction)."""
    script = (STATIC / "review.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "X-API-Key" in script and "sessionStorage" in script


# -- the queue ---------------------------------------------------------------------------------------


def test_queue_ranks_pairs_by_uncertainty_and_caches(serve, scripted, db):
    with serve(scripted, database_url=db) as c:
        texts = list(SCRIPT)
        r = c.post(
            "/v1/labels",
            json={
                "items": [
                    _label(texts[0], "Bernie", "favor"),
                    _label(texts[1], "DNC", "against"),
                    _label(texts[2], "Sanders", "favor"),
                    _label(texts[2], "DNC", "against"),
                    _label(texts[2], "DNC", "neutral"),  # supersedes: 3 labels on this text
                    _label("Clinton was not here.", "Bernie Sanders", "neutral"),  # not mentioned
                ]
            },
        )
        assert r.status_code == 200, r.text
        scripted.predicted.clear()

        r = c.get("/v1/review/queue")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["model"], body["version"]) == ("tiny-test", "0")
        assert (body["candidates"], body["pairs"], body["predicted_texts"]) == (4, 4, 4)
        got = [(i["text"], i["actor"], i["uncertainty"]) for i in body["items"]]
        assert got == [
            (texts[1], "Democratic National Committee", 0.95),
            (texts[2], "Bernie Sanders", 0.9),
            (texts[0], "Bernie Sanders", 0.5),
            (texts[2], "Democratic National Committee", 0.15),
        ]
        top = body["items"][0]
        assert top["label"] == "against" and top["probabilities"] == {
            "against": 0.4,
            "neutral": 0.35,
            "favor": 0.25,
        }
        assert top["snippet"] == texts[1] and top["discovered"] is False and top["current_label"] == "against"
        assert top["labels"] == 1 and len(top["text_sha256"]) == 64 and top["text_id"] >= 1
        assert [(i["labels"], i["current_label"]) for i in body["items"]][3] == (3, "neutral")

        # Cached by (text, actor, model version): a reload predicts nothing.
        predicted = len(scripted.predicted)
        again = c.get("/v1/review/queue", params={"limit": 2}).json()
        assert [i["uncertainty"] for i in again["items"]] == [0.95, 0.9]
        assert again["predicted_texts"] == 0 and len(scripted.predicted) == predicted
        # Only the newest `candidates` texts are considered, and only new ones are predicted.
        r = c.post(
            "/v1/labels",
            json={"items": [_label(texts[3], "Sanders", "favor"), _label(texts[3], "DNC", "con")]},
        )
        assert r.status_code == 200, r.text
        newest = c.get("/v1/review/queue", params={"candidates": 1}).json()
        assert (newest["candidates"], newest["pairs"], newest["predicted_texts"]) == (1, 1, 1)
        assert [(i["actor"], i["uncertainty"], i["labels"]) for i in newest["items"]] == [
            ("Bernie Sanders", 0.7, 2)  # its DNC is not mentioned: not in the queue
        ]
        assert scripted.predicted[predicted:] == [texts[3]]
        assert c.get("/v1/review/queue").json()["predicted_texts"] == 0


def test_queue_validation_auth_and_an_empty_store(serve, scripted, db, tmp_path):
    with serve(scripted, database_url=db, api_keys=["k"]) as c:
        err = _error(c.get("/v1/review/queue"), 401)
        assert err["code"] == "unauthorized" and err["field"] == "X-API-Key"
        _error(c.get("/v1/review/queue", headers={"X-API-Key": "nope"}), 401)
        ok = c.get("/v1/review/queue", headers={"X-API-Key": "k"})
        assert ok.status_code == 200
        assert ok.json() == {
            "model": "tiny-test",
            "version": "0",
            "candidates": 0,
            "pairs": 0,
            "predicted_texts": 0,
            "items": [],
        }
        for params, field in [
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"candidates": 0}, "candidates"),
            ({"candidates": 1001}, "candidates"),
            ({"candidates": "many"}, "candidates"),
        ]:
            err = _error(c.get("/v1/review/queue", params=params, headers={"X-API-Key": "k"}), 422)
            assert err["code"] == "invalid_input" and err["field"] == field and err["fix"], (params, err)
        spec = c.get("/openapi.json").json()
        op = spec["paths"]["/v1/review/queue"]["get"]
        assert op["security"] == [{"APIKeyHeader": []}]
        assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ReviewQueue"
        }
        limits = {p["name"]: p["schema"] for p in op["parameters"]}
        assert limits["candidates"]["maximum"] == 1000 and limits["limit"]["maximum"] == 100

    blocker = tmp_path / "file"
    blocker.write_text("")
    with serve(scripted, database_url=f"sqlite:///{blocker}/labels.db") as c:
        err = _error(c.get("/v1/review/queue"), 503)
        assert err["code"] == "store_unavailable"


def test_queue_waits_for_the_model(serve, gated, db):
    with serve(gated, ready=False, database_url=db) as c:
        err = _error(c.get("/v1/review/queue"), 503)
        assert err["code"] == "not_ready"
        gated.gate.set()


# -- the queue's scoring, without HTTP -------------------------------------------------------------


def test_uncertainty_is_one_minus_the_margin():
    assert uncertainty({"against": 0.5, "neutral": 0.0, "favor": 0.5}) == 1.0
    assert uncertainty({"against": 1.0, "neutral": 0.0, "favor": 0.0}) == 0.0
    assert uncertainty({"against": 0.2, "neutral": 0.3, "favor": 0.5}) == pytest.approx(0.8)
    assert uncertainty({"against": float("nan"), "neutral": 0.3, "favor": 0.7}) == pytest.approx(0.6)
    assert uncertainty({}) == 0.0


def _record(i: int, text: str, labels: int = 0) -> TextRecord:
    return TextRecord(i, f"sha{i}", text, None, datetime(2024, 1, i, tzinfo=UTC), labels)


def test_build_queue_discovers_actors_of_unlabelled_texts_and_splits_batches(scripted):
    texts = [_record(3, "Sanders and the DNC argued."), _record(2, "Sanders spoke in Iowa.", labels=1)]
    labelled = {2: {"Bernie Sanders": "favor"}}
    calls: list[tuple[list[str], list[Any]]] = []

    async def predict(batch: list[str], actors: list[Any]) -> list[list[ActorStance]]:
        calls.append((batch, actors))
        return scripted.predict(batch, per_text_actors=actors, evidence=1)

    cache = PredictionCache()

    async def run(version: str, limit: int = 10):
        return await build_queue(
            texts,
            labelled,
            predict=predict,
            cache=cache,
            model_version=version,
            limit=limit,
            max_batch_texts=1,
        )

    result = asyncio.run(run("v1"))
    assert calls == [([texts[0].text], [None]), ([texts[1].text], [["Bernie Sanders"]])]
    assert [(e.scored.actor, e.discovered, e.current_label) for e in result.entries] == [
        ("Bernie Sanders", True, None),
        ("Bernie Sanders", False, "favor"),
        ("Democratic National Committee", True, None),
    ]
    assert (result.candidates, result.pairs, result.predicted_texts) == (2, 3, 2)
    assert len(cache) == 2  # (sha3, discovered), (sha2, Bernie Sanders)
    assert asyncio.run(run("v1", limit=1)).predicted_texts == 0 and len(calls) == 2
    assert asyncio.run(run("v2")).predicted_texts == 2  # a new model version misses the cache

    small = PredictionCache(max_entries=1)
    small.put(("a", None, "v"), ())
    small.put(("b", None, "v"), ())
    assert small.get(("a", None, "v")) is None and small.get(("b", None, "v")) == ()


def test_store_current_labels_by_text(tmp_path):
    with LabelStore.open(f"sqlite:///{tmp_path}/labels.db") as store:
        store.add(
            [
                new_label(text="Go Bernie!", actor="Bernie", label="favor"),
                new_label(text="Go Bernie!", actor="Bernie", label="against"),
                new_label(text="The DNC met.", actor="DNC", label="neutral"),
            ]
        )
        ids = {t.text: t.id for t in store.recent_texts()}
        assert store.current_labels_by_text([*ids.values(), 999]) == {
            ids["Go Bernie!"]: {"Bernie Sanders": "against"},
            ids["The DNC met."]: {"Democratic National Committee": "neutral"},
        }
        assert store.current_labels_by_text([]) == {}
