"""The bounded queue (429 when full) and the micro-batcher's rules, made deterministic by pausing it."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from _api_fixtures import serve_fixture  # noqa: F401  (fixtures)

from model import InvalidInputError
from service.app.batcher import MicroBatcher, Options
from service.app.errors import NotReadyError, OverloadedError


def _wait_for(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_full_queue_answers_429_with_retry_after(serve, tiny_predictor):
    with serve(tiny_predictor, queue_size=3, max_items=3) as c:
        batcher = c.app.state.slant.batcher
        batcher.pause()
        first: dict = {}
        t = threading.Thread(
            target=lambda: first.setdefault(
                "r",
                c.post(
                    "/v1/stance",
                    json={"items": [{"text": "The DNC met."}, {"text": "Sanders spoke."}], "actors": ["DNC"]},
                ),
            )
        )
        t.start()
        _wait_for(lambda: batcher.queued_texts == 2)
        r = c.post("/v1/stance", json={"items": [{"text": "a"}, {"text": "b"}], "actors": ["DNC"]})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        err = r.json()["error"]
        assert err["code"] == "overloaded"
        assert err["message"] == "the queue is full (2 of 3 texts waiting; this request has 2)"
        assert "slant_queue_rejected_total 1.0" in c.get("/metrics").text
        assert "slant_queue_depth 2.0" in c.get("/metrics").text
        # One more text still fits.
        second: dict = {}
        t2 = threading.Thread(target=lambda: second.setdefault("r", c.post("/v1/stance", json={"text": "x"})))
        t2.start()
        _wait_for(lambda: batcher.queued_texts == 3)
        batcher.resume()
        t.join(30)
        t2.join(30)
        assert first["r"].status_code == 200 and len(first["r"].json()["items"]) == 2
        assert second["r"].status_code == 200
        assert c.post("/v1/stance", json={"items": [{"text": "a"}, {"text": "b"}]}).status_code == 200
        assert 'route="/v1/stance",status="429"} 1.0' in c.get("/metrics").text


# -- the batcher on its own -------------------------------------------------------------------------


class Recorder:
    """Records the texts of every predict() call; delegates to the tiny model."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[tuple[list[str], dict]] = []

    def predict(self, texts, **kwargs):
        self.calls.append((list(texts), kwargs))
        return self.inner.predict(texts, **kwargs)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_batches_respect_options_and_budgets(tiny_predictor):
    rec = Recorder(tiny_predictor)

    async def scenario():
        b = MicroBatcher(lambda: rec, queue_size=50, max_batch_texts=3, max_batch_chars=10_000, max_wait_ms=0)
        b.start()
        b.pause()
        await asyncio.sleep(0)
        futures = [
            b.submit(["The DNC met.", "Sanders spoke."], [["DNC"], None], Options()),
            b.submit(["Clinton won."], [["Hillary Clinton"]], Options(evidence=1)),
            b.submit(["The GOP met."], [["GOP"]], Options()),
            b.submit(["Trump spoke.", "Biden spoke."], [None, None], Options()),
        ]
        assert b.queued_texts == 6
        b.resume()
        results = await asyncio.gather(*futures)
        await b.stop()
        return results

    results = _run(scenario())
    # Head job + the next same-options job that fits 3 texts; the evidence=1 job waits for its own batch.
    assert [c[0] for c in rec.calls] == [
        ["The DNC met.", "Sanders spoke.", "The GOP met."],
        ["Clinton won."],
        ["Trump spoke.", "Biden spoke."],
    ]
    assert rec.calls[1][1]["evidence"] == 1 and rec.calls[0][1]["evidence"] == 3
    assert rec.calls[0][1]["per_text_actors"] == [["DNC"], None, ["GOP"]]
    assert [len(r.results) for r in results] == [2, 1, 1, 2]
    assert [r.batch_texts for r in results] == [3, 1, 3, 2]
    assert results[0].results[0][0].actor == "Democratic National Committee"
    alone = tiny_predictor.predict(["The GOP met."], ["GOP"])[0]
    got = results[2].results[0]
    assert [(r.actor, r.status, r.mentions) for r in got] == [(r.actor, r.status, r.mentions) for r in alone]
    for a, b in zip(got, alone, strict=True):
        assert all(abs(a.probabilities[k] - b.probabilities[k]) < 1e-3 for k in b.probabilities)


def test_withdrawn_job_is_dropped_before_inference(tiny_predictor):
    rec = Recorder(tiny_predictor)

    async def scenario():
        b = MicroBatcher(lambda: rec, queue_size=10, max_wait_ms=0)
        b.start()
        b.pause()
        await asyncio.sleep(0)
        gone = b.submit(["The DNC met."], [["DNC"]], Options())
        kept = b.submit(["Sanders spoke."], [["Bernie Sanders"]], Options())
        gone.cancel()  # what the route does when the client disconnects
        await asyncio.sleep(0)
        depth = b.queued_texts
        b.resume()
        result = await kept
        await b.stop()
        return depth, result

    depth, result = _run(scenario())
    assert depth == 1
    assert [c[0] for c in rec.calls] == [["Sanders spoke."]]
    assert result.results[0][0].actor == "Bernie Sanders"


def test_one_bad_job_does_not_fail_its_batch(tiny_predictor):
    rec = Recorder(tiny_predictor)

    async def scenario():
        b = MicroBatcher(lambda: rec, queue_size=10, max_wait_ms=0)
        b.start()
        b.pause()
        await asyncio.sleep(0)
        good = b.submit(["The DNC met."], [["DNC"]], Options())
        bad = b.submit([""], [["DNC"]], Options())  # bypasses the route's validation on purpose
        b.resume()
        done = await asyncio.gather(good, bad, return_exceptions=True)
        await b.stop()
        return done

    good, bad = _run(scenario())
    assert good.results[0][0].actor == "Democratic National Committee"
    assert isinstance(bad, InvalidInputError)
    assert [c[0] for c in rec.calls] == [["The DNC met.", ""], ["The DNC met."], [""]]


def test_submit_over_capacity_raises_overloaded(tiny_predictor):
    async def scenario():
        b = MicroBatcher(lambda: tiny_predictor, queue_size=2, max_wait_ms=0)
        b.start()
        b.pause()
        await asyncio.sleep(0)
        b.submit(["a", "b"], [None, None], Options())
        with pytest.raises(OverloadedError) as info:
            b.submit(["c"], [None], Options())
        await b.stop()
        return info.value

    err = _run(scenario())
    assert err.code == "overloaded" and 1 <= err.retry_after <= 60


def test_stop_answers_waiting_jobs_instead_of_leaving_them_hanging(tiny_predictor):
    async def scenario():
        b = MicroBatcher(lambda: tiny_predictor, queue_size=10, max_wait_ms=0)
        b.start()
        b.pause()
        await asyncio.sleep(0)
        waiting = b.submit(["The DNC met."], [["DNC"]], Options())
        await b.stop()
        with pytest.raises(NotReadyError, match="shutting down"):
            await waiting
        with pytest.raises(NotReadyError, match="not running"):
            b.submit(["x"], [None], Options())

    _run(scenario())


def test_each_batch_reads_the_serving_predictor_when_it_forms(tiny_predictor):
    """The batcher holds no predictor: a swap (one assignment where the state keeps it) reaches
    the next batch formed."""
    first, second = Recorder(tiny_predictor), Recorder(tiny_predictor)
    serving = {"p": first}

    async def scenario():
        b = MicroBatcher(lambda: serving["p"], queue_size=10, max_wait_ms=0)
        b.start()
        await b.submit(["The DNC met."], [["DNC"]], Options())
        serving["p"] = second
        await b.submit(["Sanders spoke."], [["Bernie Sanders"]], Options())
        await b.stop()

    _run(scenario())
    assert [c[0] for c in first.calls] == [["The DNC met."]]
    assert [c[0] for c in second.calls] == [["Sanders spoke."]]


def test_the_route_validates_once_and_hands_parsed_actors_over(serve, tiny_predictor):
    from model.actors import Actor

    class Serving(Recorder):  # the app also reads the model's name and version, and warms it up
        def __getattr__(self, name):
            return getattr(self.inner, name)

        def predict(self, texts, *args, **kwargs):
            self.calls.append((list(texts), kwargs))
            return self.inner.predict(texts, *args, **kwargs)

    rec = Serving(tiny_predictor)
    with serve(rec) as c:
        rec.calls.clear()  # the warm-up
        body = {
            "items": [
                {"text": "The DNC met.", "actors": [{"name": "DNC", "aliases": ["Dems"]}]},
                {"text": "x"},
            ],
            "actors": ["Bernie Sanders"],
        }
        assert c.post("/v1/stance", json=body).status_code == 200
    ((texts, kwargs),) = rec.calls
    assert texts == ["The DNC met.", "x"]
    own, shared = kwargs["per_text_actors"]
    assert all(isinstance(a, Actor) for a in [*own, *shared])
    assert [a.name for a in own] == ["DNC"] and "Dems" in own[0].aliases
    assert [a.name for a in shared] == ["Bernie Sanders"]
