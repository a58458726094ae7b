"""POST /v1/analyze (stance plus bias) on the tiny model with bias heads; GET /v1/models' heads and
licence notices; the batcher mixing stance and analysis requests; SLANT_HEADS."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _api_fixtures import (  # noqa: F401  (fixtures)
    bias_client_fixture,
    client_fixture,
    gated_fixture,
    serve_fixture,
    settings,
)

from model import StancePredictor
from model.bias import BiasHead, load_head

ACTORS = ["Bernie Sanders", "DNC", "Hillary Clinton"]
TOL = 1e-3


def same_stance(http_actors: list[dict[str, Any]], core: list[Any]) -> None:
    """The HTTP actor results equal the core's, up to float noise from batch padding."""
    assert len(http_actors) == len(core)
    for got, exp in zip(http_actors, core, strict=True):
        exp = exp.to_dict()
        for key in ("actor", "status", "mentions", "windows", "level", "aliases_matched"):
            assert got[key] == exp[key], key
        assert (got["probabilities"] is None) == (exp["probabilities"] is None)
        for label, p in (exp["probabilities"] or {}).items():
            assert abs(got["probabilities"][label] - p) < TOL
        assert len(got["evidence"]) == len(exp["evidence"])


def same_http_stance(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    """Two HTTP actor lists agree: every field, probabilities up to float noise from batch padding."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert set(x) == set(y)
        for key in ("actor", "status", "mentions", "windows", "level", "aliases_matched"):
            assert x[key] == y[key], key
        assert (x["probabilities"] is None) == (y["probabilities"] is None)
        for label, p in (y["probabilities"] or {}).items():
            assert abs(x["probabilities"][label] - p) < TOL
        assert len(x["evidence"]) == len(y["evidence"])


def same_bias(got: dict[str, Any] | None, core: Any) -> None:
    if core is None:
        assert got is None
        return
    exp = core.to_dict()
    assert got is not None and set(got) == {"leaning", "hyperpartisan", "loaded_language", "sentences"}
    assert got["sentences"] == exp["sentences"]
    if exp["leaning"] is None:
        assert got["leaning"] is None
    else:
        assert set(got["leaning"]["probabilities"]) == set(exp["leaning"]["probabilities"])
        for label, p in exp["leaning"]["probabilities"].items():
            assert abs(got["leaning"]["probabilities"][label] - p) < TOL
        ranked = sorted(exp["leaning"]["probabilities"].values(), reverse=True)
        if ranked[0] - ranked[1] > 2 * TOL:
            assert got["leaning"]["label"] == exp["leaning"]["label"]
    if exp["hyperpartisan"] is None:
        assert got["hyperpartisan"] is None
    else:
        assert abs(got["hyperpartisan"] - exp["hyperpartisan"]) < TOL
    ll, exp_ll = got["loaded_language"], exp["loaded_language"]
    if exp_ll is None:
        assert ll is None
        return
    assert (ll["scored"], ll["threshold"]) == (exp_ll["scored"], exp_ll["threshold"])
    # A sentence within float noise of the threshold may be flagged in one pass and not the other.
    close = {
        (s["start"], s["end"]) for s in exp_ll["sentences"] if abs(s["probability"] - ll["threshold"]) < TOL
    }
    got_spans = {(s["start"], s["end"]) for s in ll["sentences"]} - close
    assert got_spans == {(s["start"], s["end"]) for s in exp_ll["sentences"]} - close


def test_single_text(bias_client, tiny_bias_predictor, article):
    r = bias_client.post("/v1/analyze", json={"text": article, "actors": ACTORS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"model", "version", "items"}
    assert (body["model"], body["version"]) == ("tiny-test", "0")
    [item] = body["items"]
    assert set(item) == {"id", "stance", "bias"} and item["id"] is None
    [core] = tiny_bias_predictor.analyze([article], ACTORS)
    same_stance(item["stance"], core.stance)
    same_bias(item["bias"], core.bias)
    bias = item["bias"]
    assert bias["leaning"]["label"] in {"left", "center", "right"}
    assert sum(bias["leaning"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 <= bias["hyperpartisan"] <= 1
    loaded = bias["loaded_language"]
    assert loaded["scored"] == bias["sentences"] > 0
    assert loaded["share"] == round(len(loaded["sentences"]) / loaded["scored"], 4)
    for s in loaded["sentences"]:
        assert article[s["start"] : s["end"]] == s["text"] and s["probability"] >= loaded["threshold"]
    for ev in item["stance"][0]["evidence"]:
        assert article[ev["start"] : ev["end"]] == ev["text"]
    for name in ("X-Queue-Time-Ms", "X-Inference-Time-Ms", "X-Batch-Texts"):
        assert float(r.headers[name]) >= 0


def test_items_keep_ids_order_and_equal_single_answers(bias_client, tiny_bias_predictor, article):
    items = [
        {"id": "a", "text": "Clinton lied about the emails. #Benghazi", "actors": ["Hillary Clinton"]},
        {"id": 7, "text": article},
        {"text": "Bernie Sanders spoke about wages. The DNC listened."},
    ]
    r = bias_client.post("/v1/analyze", json={"items": items, "actors": ["DNC"], "evidence": 1})
    assert r.status_code == 200, r.text
    out = r.json()["items"]
    assert [o["id"] for o in out] == ["a", 7, None]
    assert [[a["actor"] for a in o["stance"]] for o in out] == [
        ["Hillary Clinton"],
        ["Democratic National Committee"],
        ["Democratic National Committee"],
    ]
    for o, item in zip(out, items, strict=True):
        # Batched with the others, each answer equals the text analysed on its own.
        [alone] = tiny_bias_predictor.analyze([item["text"]], item.get("actors", ["DNC"]), evidence=1)
        same_stance(o["stance"], alone.stance)
        same_bias(o["bias"], alone.bias)


def test_stance_of_analyze_equals_v1_stance(bias_client, article):
    body = {"text": article, "actors": ACTORS, "evidence": 2}
    stance = bias_client.post("/v1/stance", json=body).json()["items"][0]["actors"]
    analysed = bias_client.post("/v1/analyze", json=body).json()["items"][0]["stance"]
    assert [a["actor"] for a in analysed] == [a["actor"] for a in stance]
    same_http_stance(analysed, stance)


def test_a_model_without_heads_answers_bias_null(client, tiny_predictor):
    r = client.post("/v1/analyze", json={"items": [{"text": "The DNC met."}, {"text": "Go Bernie!"}]})
    assert r.status_code == 200, r.text
    assert [i["bias"] for i in r.json()["items"]] == [None, None]
    assert client.get("/v1/models").json()["models"][0]["heads"] == []


def test_a_missing_head_is_a_null_field(serve, tiny_bias_model_dir):
    model_dir, _ = tiny_bias_model_dir
    p = StancePredictor.load(model_dir, heads=[], device="cpu", backend="torch")
    with serve(p) as c:
        bias = c.post("/v1/analyze", json={"text": "The DNC met on Monday."}).json()["items"][0]["bias"]
    assert bias["loaded_language"] is None
    assert bias["leaning"] is not None and bias["hyperpartisan"] is not None


class Recorder:
    """Records every predict()/analyze() call of a predictor (name, texts, bias flags)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, list[str], Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def predict(self, texts, *args, **kwargs):
        self.calls.append(("predict", list(texts), None))
        return self.inner.predict(texts, *args, **kwargs)

    def analyze(self, texts, *args, bias=True, **kwargs):
        self.calls.append(("analyze", list(texts), bias))
        return self.inner.analyze(texts, *args, bias=bias, **kwargs)


def test_stance_and_analyze_requests_share_a_batch(serve, tiny_bias_predictor, article):
    """One forward pass for both kinds; stance requests get only stance, identical to the
    analysis requests' stance for the same text, and only analysed texts pay for the heads."""
    texts = [article, "Clinton lied. #Benghazi", "The DNC met in Philadelphia on Monday.", article[:400]]
    rec = Recorder(tiny_bias_predictor)
    with serve(rec, max_wait_ms=0) as c:
        rec.calls.clear()  # the warm-up
        batcher = c.app.state.slant.batcher
        batcher.pause()
        answers: dict[tuple[str, int], Any] = {}

        def call(route: str, i: int) -> None:
            body = {"items": [{"id": i, "text": texts[i]}], "actors": ACTORS}
            answers[route, i] = c.post(f"/v1/{route}", json=body)

        jobs = [(route, i) for i in range(len(texts)) for route in ("stance", "analyze")]
        threads = []
        for job in jobs:  # one at a time, so the queue order (and the bias flags) are known
            threads.append(threading.Thread(target=call, args=job))
            threads[-1].start()
            deadline = time.monotonic() + 20
            while batcher.queued_texts < len(threads):
                assert time.monotonic() < deadline
                time.sleep(0.005)
        batcher.resume()
        for t in threads:
            t.join(30)
        metrics = c.get("/metrics").text
    assert rec.calls == [("analyze", [texts[i] for _, i in jobs], [r == "analyze" for r, _ in jobs])]
    assert "slant_batch_requests_count 1.0" in metrics
    for i, text in enumerate(texts):
        s, a = answers["stance", i], answers["analyze", i]
        assert s.status_code == a.status_code == 200, (s.text, a.text)
        assert s.headers["X-Batch-Texts"] == a.headers["X-Batch-Texts"] == str(len(jobs))
        stance = s.json()
        assert set(stance) == {"model", "version", "items"}
        assert set(stance["items"][0]) == {"id", "actors"}  # the /v1/stance shape, no bias
        analysed = a.json()["items"][0]
        same_http_stance(stance["items"][0]["actors"], analysed["stance"])
        [alone] = tiny_bias_predictor.analyze([text], ACTORS)
        same_stance(analysed["stance"], alone.stance)
        same_bias(analysed["bias"], alone.bias)


def test_stance_only_batches_call_predict_as_before(serve, tiny_bias_predictor):
    rec = Recorder(tiny_bias_predictor)
    with serve(rec) as c:
        rec.calls.clear()
        assert c.post("/v1/stance", json={"text": "The DNC met."}).status_code == 200
        assert c.post("/v1/analyze", json={"text": "The DNC met."}).status_code == 200
    assert rec.calls == [("predict", ["The DNC met."], None), ("analyze", ["The DNC met."], True)]


# -- errors, limits, auth and metrics: the same as /v1/stance ---------------------------------------


@pytest.fixture(scope="module")
def limited(tiny_bias_predictor):
    limits = {"max_items": 8, "max_text_chars": 1000, "max_actors": 4, "max_body_bytes": 2048}
    from _api_fixtures import serving

    with serving(tiny_bias_predictor, **limits) as c:
        yield c


@pytest.mark.parametrize(
    "kwargs, status, code",
    [
        ({"json": {"text": ""}}, 422, "invalid_input"),
        ({"json": {"text": "   "}}, 422, "invalid_input"),
        ({"json": {"items": []}}, 422, "invalid_input"),
        ({"json": {"text": "a", "items": [{"text": "b"}]}}, 422, "invalid_input"),
        ({"json": {"text": "The DNC met.", "actors": [7]}}, 422, "invalid_input"),
        ({"json": {"text": "x", "evidence": 11}}, 422, "invalid_input"),
        ({"json": {"text": "x", "colour": "red"}}, 422, "invalid_input"),
        ({"json": {"items": [{"text": "x"}] * 9}}, 413, "input_too_large"),
        ({"json": {"text": "x" * 1001}}, 413, "input_too_large"),
        ({"json": {"text": "x", "actors": ["DNC"] * 5}}, 413, "input_too_large"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "invalid_input"),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 422, "invalid_input"),
        (
            {"content": b'{"text": "x"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"content": b'{"text": "x"}'}, 415, "unsupported_media_type"),
        ({"content": b'{"text": "' + b"x" * 3000 + b'"}'}, 413, "input_too_large"),
    ],
)
def test_errors_are_those_of_v1_stance(limited, kwargs, status, code):
    stance = limited.post("/v1/stance", **kwargs)
    analyze = limited.post("/v1/analyze", **kwargs)
    assert (analyze.status_code, analyze.json()["error"]["code"]) == (status, code), analyze.text
    assert stance.status_code == status
    assert analyze.json() == stance.json()  # field, message and fix too


def test_method_not_allowed(bias_client):
    r = bias_client.get("/v1/analyze")
    assert r.status_code == 405
    assert r.json()["error"]["message"] == "GET is not allowed on /v1/analyze"


def test_full_queue_answers_429(serve, tiny_bias_predictor):
    with serve(tiny_bias_predictor, queue_size=2, max_items=2) as c:
        batcher = c.app.state.slant.batcher
        batcher.pause()
        waiting: dict[str, Any] = {}
        body = {"items": [{"text": "The DNC met."}, {"text": "Sanders spoke."}]}
        t = threading.Thread(target=lambda: waiting.setdefault("r", c.post("/v1/analyze", json=body)))
        t.start()
        deadline = time.monotonic() + 20
        while batcher.queued_texts < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        r = c.post("/v1/analyze", json={"text": "x"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["message"] == "the queue is full (2 of 2 texts waiting; this request has 1)"
        batcher.resume()
        t.join(30)
        assert waiting["r"].status_code == 200 and len(waiting["r"].json()["items"]) == 2
        assert 'route="/v1/analyze",status="429"} 1.0' in c.get("/metrics").text


def test_503_until_warm_and_the_warm_up_runs_the_heads(serve, tiny_bias_predictor):
    from _api_fixtures import GatedPredictor

    gated = GatedPredictor(tiny_bias_predictor)
    rec = Recorder(gated)
    with serve(rec, ready=False) as c:
        r = c.post("/v1/analyze", json={"text": "The DNC met."})
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        gated.gate.set()
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert [name for name, _, _ in rec.calls] == ["analyze"]  # the warm-up reads the heads too
        assert c.post("/v1/analyze", json={"text": "The DNC met."}).status_code == 200


def test_api_keys(serve, tiny_bias_predictor):
    with serve(tiny_bias_predictor, api_keys=["k-1"], admin_keys=["adm"]) as c:
        body = {"text": "The DNC met.", "actors": ["DNC"]}
        r = c.post("/v1/analyze", json=body)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.post("/v1/analyze", json=body, headers={"X-API-Key": "nope"}).status_code == 401
        # The key is checked before the body.
        assert (
            c.post("/v1/analyze", content=b"{bad", headers={"content-type": "application/json"}).status_code
            == 401
        )
        for key in ("k-1", "adm"):
            assert c.post("/v1/analyze", json=body, headers={"X-API-Key": key}).status_code == 200
        spec = c.get("/openapi.json").json()
        assert spec["paths"]["/v1/analyze"]["post"]["security"] == [{"APIKeyHeader": []}]


def test_metrics_count_the_route(bias_client):
    bias_client.post("/v1/analyze", json={"text": "The DNC met."})
    bias_client.post("/v1/analyze", json={"text": ""})
    text = bias_client.get("/metrics").text
    assert 'slant_http_requests_total{method="POST",route="/v1/analyze",status="200"}' in text
    assert 'slant_http_requests_total{method="POST",route="/v1/analyze",status="422"}' in text


def test_docs_examples_work_as_written(bias_client):
    spec = bias_client.get("/openapi.json").json()
    op = spec["paths"]["/v1/analyze"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StanceRequest"
    }
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AnalyzeResponse"
    }
    examples = op["requestBody"]["content"]["application/json"]["examples"]
    assert examples
    for name, example in examples.items():
        r = bias_client.post("/v1/analyze", json=example["value"])
        assert r.status_code == 200, (name, r.text)
        for item in r.json()["items"]:
            assert item["stance"] and item["bias"]["leaning"] is not None, name


# -- GET /v1/models: heads and licence notices -------------------------------------------------------


def agpl_head(tmp_path: Path, loaded_dir: Path) -> Path:
    """A copy of the tiny loaded-language head with an AGPL licence and dev metrics."""
    head = load_head(loaded_dir)
    info = {"dev": {"how": "held-out split", "macro_f1": 0.71, "ece": float("nan")}}
    copy: BiasHead = dataclasses.replace(head, licence="AGPL-3.0 (BABE data, Spinde et al. 2021)", info=info)
    return copy.save(tmp_path / "loaded-language-agpl")


def test_models_lists_the_heads(bias_client, tiny_bias_model_dir):
    model_dir, loaded = tiny_bias_model_dir
    body = bias_client.get("/v1/models").json()
    heads = {h["task"]: h for h in body["models"][0]["heads"]}
    assert set(heads) == {"leaning", "hyperpartisan", "loaded_language"}
    assert heads["leaning"] == {
        "task": "leaning",
        "level": "article",
        "labels": ["left", "center", "right"],
        "licence": "test",
        "metrics": None,
        "path": str(model_dir / "bias" / "leaning"),
    }
    assert heads["loaded_language"]["level"] == "sentence"
    assert heads["loaded_language"]["path"] == str(loaded)
    assert body["notices"] == []  # no head here is AGPL-licensed


def test_an_agpl_head_comes_with_a_notice(serve, tiny_bias_model_dir, tmp_path):
    model_dir, loaded = tiny_bias_model_dir
    agpl = agpl_head(tmp_path, loaded)
    p = StancePredictor.load(model_dir, heads=[agpl], device="cpu", backend="torch")
    with serve(p) as c:
        body = c.get("/v1/models").json()
    head = next(h for h in body["models"][0]["heads"] if h["task"] == "loaded_language")
    assert head["licence"].startswith("AGPL-3.0")
    assert head["metrics"] == {"how": "held-out split", "macro_f1": 0.71, "ece": None}
    [notice] = body["notices"]
    assert notice["kind"] == "licence" and notice["licence"] == head["licence"]
    assert notice["about"] == f"bias head loaded_language ({agpl})"
    assert "Section 13 of the AGPL" in notice["message"]
    assert "corresponding source" in notice["message"] and "SLANT_SOURCE_URL" in notice["message"]
    assert notice["source"] is None
    with serve(p, source_url="https://example.org/slant") as c:
        [notice] = c.get("/v1/models").json()["notices"]
    assert notice["source"] == "https://example.org/slant"
    assert "published at https://example.org/slant" in notice["message"]


# -- SLANT_HEADS: settings, start-up load and hot reload ----------------------------------------------


def test_slant_heads_setting(monkeypatch):
    from service.app import Settings

    monkeypatch.setenv("SLANT_HEADS", " models/a , models/b,")
    monkeypatch.setenv("SLANT_SOURCE_URL", "https://example.org/slant")
    s = Settings()
    assert s.heads == ["models/a", "models/b"] and s.source_url == "https://example.org/slant"
    monkeypatch.setenv("SLANT_HEADS", "")
    monkeypatch.setenv("SLANT_SOURCE_URL", "")
    assert Settings().heads == [] and Settings().source_url is None


def test_the_server_loads_the_configured_heads_and_reload_keeps_them(tiny_bias_model_dir, tmp_path):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.app.metrics import Metrics
    from service.app.reload import load_and_warm
    from service.app.state import ServiceState

    model_dir, loaded = tiny_bias_model_dir
    s = settings(model=str(model_dir), heads=[str(loaded)], backend="torch", device="cpu")
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 60
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        tasks = {h["task"] for h in c.get("/v1/models").json()["models"][0]["heads"]}
        assert tasks == {"leaning", "hyperpartisan", "loaded_language"}
        bias = c.post("/v1/analyze", json={"text": "The DNC met."}).json()["items"][0]["bias"]
        assert bias["loaded_language"] is not None
    # A hot reload loads the new version with the same extra heads.
    reloaded = load_and_warm(str(model_dir), ServiceState(settings=s, metrics=Metrics()))
    assert set(reloaded.heads) == {"leaning", "hyperpartisan", "loaded_language"}
    assert reloaded.heads["loaded_language"].path == str(loaded)


def test_heads_from_the_environment_do_not_leak_into_explicit_settings(tiny_bias_model_dir, monkeypatch):
    """The service passes its own heads setting to the loader: $SLANT_HEADS read by the core's
    default would double-load, or load heads the settings object does not list."""
    from service.app.metrics import Metrics
    from service.app.reload import load_and_warm
    from service.app.state import ServiceState

    model_dir, loaded = tiny_bias_model_dir
    monkeypatch.setenv("SLANT_HEADS", str(loaded))
    s = settings(model=str(model_dir), backend="torch", device="cpu")  # heads=[]: the model's own only
    p = load_and_warm(str(model_dir), ServiceState(settings=s, metrics=Metrics()))
    assert set(p.heads) == {"leaning", "hyperpartisan"}


def test_models_lists_a_skipped_stale_head(tiny_bias_predictor) -> None:
    import copy

    from _api_fixtures import serving

    p = copy.copy(tiny_bias_predictor)
    p.skipped_heads = ["the loaded_language head in /x was fitted on encoder abc, but this model's is def"]
    with serving(p) as c:
        notices = c.get("/v1/models").json()["notices"]
    skipped = [n for n in notices if n["kind"] == "head_skipped"]
    assert len(skipped) == 1 and "fitted on encoder abc" in skipped[0]["message"]
