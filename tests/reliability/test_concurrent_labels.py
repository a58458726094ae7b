"""Label writes from several threads at once, through a real uvicorn server on a SQLite store: every
write is answered 200 (none lost to a locked database), and what is stored adds up exactly: each new
label once, a repeated one as a duplicate, competing labels of one (text, actor) as conflicts with one
current label left."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from _api_fixtures import settings, uvicorn_server

from service.app import create_app

pytestmark = pytest.mark.reliability

THREADS = 8
WRITES = 15  # per thread, each of three labels


def test_concurrent_label_writes_lose_and_duplicate_nothing(tiny_predictor: Any, tmp_path: Path):
    app = create_app(settings(database_url=f"sqlite:///{tmp_path}/labels.db"), predictor=tiny_predictor)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    with uvicorn_server(app) as base:

        def writer(t: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                start.wait(30)
                for i in range(WRITES):
                    body = {
                        "items": [
                            # new in every request
                            {"text": f"Thread {t} wrote text {i}.", "actor": "DNC", "label": "favor"},
                            # the same label from every thread: stored once, then duplicates
                            {"text": "Everyone labels this text.", "actor": "DNC", "label": "neutral"},
                            # threads disagree: each change supersedes the current label
                            {
                                "text": "Threads disagree about this text.",
                                "actor": "Bernie Sanders",
                                "label": ("against", "neutral", "favor")[(t + i) % 3],
                            },
                        ],
                        "annotator": f"thread-{t}",
                    }
                    r = http.post("/v1/labels", json=body)
                    with lock:
                        if r.status_code != 200:
                            failures.append(f"{r.status_code} {r.text[:300]}")
                            continue
                        outcomes.update(item["status"] for item in r.json()["items"])

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a writer hung"
        assert not failures, failures[:5]

        writes = THREADS * WRITES
        assert sum(outcomes.values()) == 3 * writes
        with httpx.Client(base_url=base, timeout=60) as http:

            def page(**params: Any) -> dict[str, Any]:
                r = http.get("/v1/labels", params={"limit": 1000, **params})
                assert r.status_code == 200, r.text
                return r.json()

            everything = page()
            current = page(current="true")
            contested = page(actor="Bernie Sanders")

    # Each unique text once; the shared label once; every label of the contested pair that differed
    # from the current one when it arrived.
    stored_contested = contested["total"]
    assert outcomes["stored"] == writes + 1 + 1
    assert outcomes["conflict"] == stored_contested - 1
    assert outcomes["duplicate"] == (writes - 1) + (writes - stored_contested)
    assert everything["total"] == writes + 1 + stored_contested
    assert current["total"] == writes + 2, "one current label per (text, actor)"
    current_contested = [x for x in contested["items"] if x["current"]]
    assert len(current_contested) == 1
    texts = Counter((x["text"], x["actor"]) for x in everything["items"] if x["current"])
    assert set(texts.values()) == {1}
