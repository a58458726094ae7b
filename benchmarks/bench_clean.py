"""What one text can cost: a normal ~12 KB article against adversarial texts of up to 200,000 characters.

For each text, the table gives the CPU time of ``model.text.clean`` and, with ``--pipeline``, of
the per-text work before the forward pass (clean, spaCy sentences, sentence offsets, mentions of
three actors), each as a ratio to the normal article. ``--http MODEL`` adds the wall time of one
``POST /v1/stance`` (three actors, the service in this process, its lifespan run: model loaded,
batcher started). spaCy remembers every chunk of text it has tokenized, so the normal article is
timed warm (repeated calls) and each adversarial text cold (one call, the tokenizer's cache
flushed first): the ratios are upper bounds. Run from the repository root:

    python benchmarks/bench_clean.py                                  # clean only, seconds
    python benchmarks/bench_clean.py --pipeline --http models/default # a few minutes on 2 cores

The adversarial texts are the shapes that made the regex clean-up quadratic (runs of newlines
or spaces, unclosed tags, a comment heading followed by spaces) and those that made mention
finding quadratic (one actor named 30,000 times).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("SLANT_DATA_ROOT", REPO.parent / "shared" / "data"))
ARTICLES = DATA / "article_bias_prediction" / "articles.jsonl.xz"
ACTORS = ["Donald Trump", "Hillary Clinton", "Democratic Party"]
SENTENCE = "Donald Trump said Hillary Clinton was wrong about the Democratic Party."


def normal_article(size: int = 12_000) -> tuple[str, str]:
    """The first article of ``size`` characters or more in the shared data, cut at a line near ``size``."""
    if ARTICLES.exists():
        with lzma.open(ARTICLES, "rt", encoding="utf-8") as f:
            for line in f:
                content = json.loads(line).get("content") or ""
                if len(content) >= size:
                    cut = content.rfind("\n", 0, size)
                    return content[
                        : cut if cut > size // 2 else size
                    ], "first 12 KB article in articles.jsonl.xz"
    demo = (REPO / "service" / "demo_article.txt").read_text(encoding="utf-8")
    return (demo * (size // len(demo) + 1))[:size], "service/demo_article.txt repeated to 12 KB"


def adversarial() -> dict[str, str]:
    return {
        "12,000 newlines + 1 sentence": "\n" * 12_000 + SENTENCE,
        "199,000 newlines + 1 sentence": "\n" * 199_000 + SENTENCE,
        "100,000 spaces + 1 sentence": " " * 100_000 + SENTENCE,
        "66,000 blank lines of spaces": " \t\n" * 66_000 + SENTENCE,
        "5,000 unclosed <script": "<script " * 5_000 + SENTENCE,
        "5,000 unclosed <!--": "<!-- " * 5_000 + SENTENCE,
        "20,000 tags without >": "<a b " * 20_000 + SENTENCE,
        "'Comments' + 100,000 spaces": SENTENCE + "\n" * 100 + "Comments" + " " * 100_000 + "x",
        "'loading' + 100,000 dots": SENTENCE + "\nloading" + "." * 100_000 + "x",
        "30,000 furniture lines": SENTENCE + "\n" + "Share\n" * 30_000,
        "40,000 entities": SENTENCE + " " + "&amp;" * 39_000,
        "32,000 mentions of one actor": "Trump " * 32_000,
        "400 runs of 500 quotes": " ".join(f"{i:05d}" + '"' * 494 for i in range(400)),
        "one run of 200,000 quotes": '"' * 200_000,
    }


def cpu_ms(run: Callable[[], object], *, spend: float = 0.3) -> float:
    """CPU milliseconds per call, averaged over at least ``spend`` seconds (``spend=0``: one call)."""
    runs, start = 0, time.process_time()
    while True:
        run()
        runs += 1
        spent = time.process_time() - start
        if spent >= spend:
            return 1000 * spent / runs


def pipeline(text: str) -> Callable[[], object]:
    """The predictor's per-text work before the forward pass, with the actors given (no NER)."""
    from model.actors import find_mentions, parse_actors
    from model.text import analyse, clean, sentences

    actors = parse_actors(ACTORS)

    def run() -> object:
        cleaned = clean(text)
        sents = sentences(analyse(cleaned, entities=False))
        return sents, [find_mentions(cleaned, a) for a in actors]

    return run


def http(model: str) -> Callable[[str, int], float]:
    """Wall milliseconds of POST /v1/stance of ``text`` with three actors (best of ``tries``)."""
    from fastapi.testclient import TestClient

    from service.app import Settings, create_app

    client = TestClient(create_app(Settings(model=model)))
    client.__enter__()  # runs the lifespan: model loaded, batcher started, warmed up
    deadline = time.monotonic() + 300
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise SystemExit(f"the service did not get ready: {client.get('/readyz').json()}")
        time.sleep(0.1)

    def post(text: str, tries: int) -> float:
        best = float("inf")
        for _ in range(tries):
            start = time.perf_counter()
            r = client.post("/v1/stance", json={"text": text, "actors": ACTORS, "evidence": 1})
            best = min(best, time.perf_counter() - start)
            if r.status_code != 200:
                raise SystemExit(f"POST /v1/stance answered {r.status_code}: {r.text[:300]}")
        return 1000 * best

    return post


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", action="store_true", help="also time clean + spaCy + mentions")
    parser.add_argument("--http", metavar="MODEL", help="also time POST /v1/stance on this model")
    args = parser.parse_args(argv)

    from model.text import SENTENCE_SPLITTER, _nlp, analyse, clean

    analyse("Warm up spaCy.")  # load the pipeline once, outside the timings
    article, where = normal_article()
    texts = {f"normal article ({where})": article, **adversarial()}
    post = http(args.http) if args.http else None

    header = ["text", "chars", "clean ms", "x article"]
    if args.pipeline:
        header += ["clean+spaCy+mentions ms", "x article"]
    if post:
        header += ["HTTP ms", "x article"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    base: list[float] = []
    tokenizer = _nlp(SENTENCE_SPLITTER).tokenizer  # the service in this process uses it too
    for name, text in texts.items():
        warm = not base  # the normal article: warm; the others: one cold call
        costs = [cpu_ms(lambda text=text: clean(text))]
        if args.pipeline:
            if not warm:
                tokenizer._flush_cache()
            costs.append(cpu_ms(pipeline(text), spend=1.0 if warm else 0))
        if post:
            if not warm:
                tokenizer._flush_cache()
            costs.append(post(text, 3 if warm else 1))
        base = base or costs
        cells = [name, f"{len(text):,}"]
        for cost, ref in zip(costs, base, strict=True):
            cells += [f"{cost:.2f}" if cost < 10 else f"{cost:,.0f}", f"{cost / ref:.1f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
