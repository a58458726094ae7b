"""Benchmark the HTTP service against a naive transformers pipeline, on real long news articles.

The service runs in a subprocess (``python -m service.cli serve``); this process drives it over
HTTP at several concurrency levels, then (with the server stopped, so they do not share the CPU)
runs the baseline: the same weights through ``pipeline("text-classification")``, one
(actor, article) pair at a time, truncated to the first 512 tokens. Run from the repository root:

    python benchmarks/bench_service.py --model models/default            # or: slant bench ...

Every knob is bounded (articles, requests per level, seconds per level), so a run takes minutes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SLANT_DATA_ROOT", REPO.parent / "shared" / "data"))
ARTICLES = DATA / "article_bias_prediction" / "articles.jsonl.xz"
ACTORS = ["Donald Trump", "Hillary Clinton", "Democratic Party"]
#: For the "cost per extra actor" rows: the first 1, 3 or 8 of these on the same articles.
MORE_ACTORS = [*ACTORS, "Barack Obama", "Republican Party", "Bernie Sanders", "Joe Biden", "Congress"]


def load_articles(path: Path, *, count: int, min_words: int = 600, scan_lines: int = 400) -> list[str]:
    """The first ``count`` articles of at least ``min_words`` words among the first ``scan_lines`` lines."""
    out: list[str] = []
    with lzma.open(path, "rt", encoding="utf-8") as f:
        for line in itertools.islice(f, scan_lines):
            content = json.loads(line).get("content") or ""
            if len(content.split()) >= min_words:
                out.append(content)
                if len(out) == count:
                    break
    if not out:
        raise SystemExit(f"no article of {min_words}+ words in the first {scan_lines} lines of {path}")
    return out


def int8_instructions() -> str:
    """The CPU's int8 dot-product instruction sets (from /proc/cpuinfo), which decide how fast
    ``onnx-int8`` runs against fp32 ``torch``: with VNNI, int8 matrix products take fewer
    instructions, so the service/naive ratio of one machine does not carry over to another."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    if not flags:  # not x86 (an Arm CPU lists "Features"): say nothing rather than "none"
        return "unknown"
    found = [f for f in ("avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_int8") if f in flags]
    return ", ".join(found) if found else "none (no VNNI)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``slant serve`` in a subprocess on a free loopback port."""

    def __init__(self, model: str, *, port: int, log: Path, backend: str = "auto") -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        cmd = [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--model",
            model,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--backend",
            backend,
        ]
        self.log = log.open("w")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise SystemExit(f"the server was not ready after {timeout:.0f}s; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _batch_stats(url: str) -> tuple[float, float]:
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    found = dict(re.findall(r"^slant_batch_texts_(sum|count) (\S+)$", text, re.M))
    return float(found.get("sum", 0)), float(found.get("count", 0))


def drive(
    url: str,
    articles: list[str],
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    actors: list[str] | None = None,
) -> dict[str, Any]:
    """``requests`` POST /v1/stance calls from ``concurrency`` threads (one article, 3 actors each)."""
    actors = actors or ACTORS
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = itertools.count()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= requests:
                    return
                body = {"text": articles[i % len(articles)], "actors": actors, "evidence": 1}
                t0 = time.perf_counter()
                r = client.post("/v1/stance", json=body)
                dt = time.perf_counter() - t0
                with lock:
                    if r.status_code == 200:
                        latencies.append(dt)
                    else:
                        errors.append(f"{r.status_code} {r.text[:120]}")

    before = _batch_stats(url)
    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    after = _batch_stats(url)
    batches = after[1] - before[1]
    return {
        "latencies": latencies,
        "errors": errors,
        "elapsed": elapsed,
        "mean_batch": (after[0] - before[0]) / batches if batches else 0.0,
    }


def actor_costs(url: str, articles: list[str], counts: list[int], max_seconds: float) -> list[str]:
    """Milliseconds per article with 1, 3, 8 ... actors on the same articles (concurrency 4), and
    what each actor beyond the first adds."""
    per: dict[int, float] = {}
    for k in counts:
        res = drive(
            url,
            articles,
            concurrency=4,
            requests=len(articles),
            max_seconds=max_seconds,
            actors=MORE_ACTORS[:k],
        )
        if res["latencies"]:
            per[k] = 1000 * res["elapsed"] / len(res["latencies"])
        print(f"   {k} actors: {per.get(k, float('nan')):.0f} ms per article", flush=True)
    if not per:
        return []
    first = per.get(1)
    out = [
        "",
        "Cost per extra actor (same articles, concurrency 4, throughput time per article):",
        "",
        "| actors per article | ms per article | ms per extra actor (vs 1 actor) "
        "| extra actor / first actor |",
        "|---|---|---|---|",
    ]
    for k, ms in per.items():
        if first is None or k == 1:
            out.append(f"| {k} | {ms:.0f} | - | - |")
        else:
            extra = (ms - first) / (k - 1)
            out.append(f"| {k} | {ms:.0f} | {extra:.0f} | {extra / first:.2f} |")
    return out


def baseline(model: str, articles: list[str], *, max_seconds: float) -> dict[str, Any]:
    """The same weights through a plain pipeline: one (actor, article) pair per call, first 512 tokens."""
    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    clf = pipeline("text-classification", model=model, tokenizer=model, device=-1, dtype=torch.float32)
    max_length = min(512, int(getattr(clf.model.config, "max_position_embeddings", 512)))
    clf(
        {"text": ACTORS[0], "text_pair": articles[0]}, truncation="only_second", max_length=max_length
    )  # warm
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    start = time.perf_counter()
    for article in articles:
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        for actor in ACTORS:
            clf({"text": actor, "text_pair": article}, truncation="only_second", max_length=max_length)
        latencies.append(time.perf_counter() - t0)
    return {
        "latencies": latencies,
        "errors": [],
        "elapsed": time.perf_counter() - start,
        "mean_batch": 1.0,
        "max_length": max_length,
    }


def row(name: str, concurrency: int, res: dict[str, Any]) -> str:
    lat = [x * 1000 for x in res["latencies"]]
    if not lat:
        return f"| {name} | {concurrency} | 0 | - | - | - | - | - | {len(res['errors'])} |"
    rate = len(lat) / res["elapsed"]
    return (
        f"| {name} | {concurrency} | {len(lat)} | {rate:.2f} | {percentile(lat, 50):.0f} "
        f"| {percentile(lat, 95):.0f} | {percentile(lat, 99):.0f} | {res['mean_batch']:.1f} "
        f"| {len(res['errors'])} |"
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model", default=str(REPO / "models" / "default"), help="model directory (default: shipped)"
    )
    ap.add_argument(
        "--articles", type=int, default=32, help="distinct articles (600+ words) to cycle through"
    )
    ap.add_argument("--concurrency", default="1,4,16", help="comma-separated client concurrency levels")
    ap.add_argument("--backends", default="torch,onnx-int8", help="service backends, one after another")
    ap.add_argument(
        "--requests", type=int, default=0, help="requests per level (default: max(12, 3 x concurrency))"
    )
    ap.add_argument("--baseline-articles", type=int, default=16, help="articles for the pipeline baseline")
    ap.add_argument(
        "--max-seconds", type=float, default=120, help="cap on each level's (and the baseline's) time"
    )
    ap.add_argument(
        "--actor-counts",
        default="1,3,8",
        help="actors per request for the 'cost per extra actor' rows (last backend, same articles; '' skips)",
    )
    ap.add_argument("--out", type=Path, help="also write the markdown table to this file")
    args = ap.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if any(c < 1 or c > 64 for c in args.levels):
        ap.error("concurrency levels must be between 1 and 64")
    return args


def _serve_levels(
    args: argparse.Namespace, articles: list[str]
) -> tuple[list[str], dict[str, float], list[str]]:
    """Each backend's server, driven at each concurrency level: table rows, best rates, actor-cost rows."""
    rows: list[str] = []
    rates: dict[str, float] = {}
    cost_rows: list[str] = []
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    counts = [int(c) for c in args.actor_counts.split(",") if c.strip()]
    for backend in backends:
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"slant-bench-server-{backend}.log"
        server = Server(args.model, port=_free_port(), log=log, backend=backend)
        try:
            server.wait_ready(timeout=300)
            drive(server.url, articles, concurrency=1, requests=2, max_seconds=60)  # first-request effects
            for c in args.levels:
                n = args.requests or max(12, 3 * c)
                res = drive(server.url, articles, concurrency=c, requests=n, max_seconds=args.max_seconds)
                rows.append(row(f"service /v1/stance, {backend}", c, res))
                if res["latencies"]:
                    rates[backend] = max(rates.get(backend, 0.0), len(res["latencies"]) / res["elapsed"])
                print(rows[-1], flush=True)
                for e in res["errors"][:3]:
                    print("   error:", e, flush=True)
            if backend == backends[-1] and counts:
                cost_rows = actor_costs(server.url, articles, counts, args.max_seconds)
        finally:
            server.stop()
    return rows, rates, cost_rows


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    articles = load_articles(ARTICLES, count=args.articles)
    words = statistics.mean(len(a.split()) for a in articles)
    print(f"{len(articles)} articles, mean {words:.0f} words; actors: {', '.join(ACTORS)}", flush=True)
    rows, rates, cost_rows = _serve_levels(args, articles)
    base = baseline(args.model, articles[: args.baseline_articles], max_seconds=args.max_seconds)
    rows.append(row(f"naive pipeline, first {base['max_length']} tokens", 1, base))
    print(rows[-1], flush=True)

    import torch

    header = [
        f"Machine: {platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); Python {platform.python_version()}; "
        f"int8 dot-product instructions: {int8_instructions()}.",
        f"Articles: {len(articles)} from articles.jsonl.xz (600+ words, mean {words:.0f}); "
        f"actors per article: {', '.join(ACTORS)}. Model: {args.model}.",
        "",
        "| mode | concurrency | articles | articles/s | p50 ms | p95 ms | p99 ms | mean batch (texts) "
        "| errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    naive = len(base["latencies"]) / base["elapsed"] if base["latencies"] else 0.0
    summary = [""] + [
        f"Best service throughput, {b}: {r:.2f} articles/s = {r / naive:.2f}x the naive pipeline."
        for b, r in rates.items()
        if naive
    ]
    table = "\n".join(header + rows + summary + cost_rows)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
