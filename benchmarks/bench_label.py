"""Benchmark `slant label` against a naive transformers pipeline loop, on real news articles.

Takes the first N articles (``content_original``, at least ``--min-words`` words) of
``article_bias_prediction/articles.jsonl.xz`` under the data root (``$SLANT_DATA_ROOT``, else
``../shared/data``, as ``training.config.data_root`` resolves it), writes them to a temp JSONL and
runs, one after another and each in its own subprocess (so peak memory is measured per mode):

- ``slant label`` with the local engine, 1 worker and 2 workers;
- ``slant label --engine ray --workers 2`` on a local Ray started by the run;
- the naive baseline: ``transformers.pipeline("text-classification")`` with the same weights, one
  (actor, article) pair per call, truncated to 512 tokens (on ``--naive-articles`` articles);
- memory scaling: the local engine, 1 worker, on ``--scale-rows`` rows (articles repeated), with a
  tiny random model by default so the large row count stays quick (``--scale-model real`` to use
  the real one).

Actors: Donald Trump, Hillary Clinton, Democratic Party. Seconds are wall time of the whole
subprocess (interpreter start, model load, Ray start, labelling, writing the output); the naive
loop's articles/s counts its loop only, which can only favour the baseline. Peak RSS
sums the resident memory of the subprocess and all its descendants (Ray's own processes too),
sampled every 0.2 s with psutil (else ``getrusage(RUSAGE_CHILDREN)``, the largest single process).

    python benchmarks/bench_label.py --articles 2000 --naive-articles 200     # the full run
    python benchmarks/bench_label.py --articles 30 --naive-articles 10 --scale-rows 30,60  # smoke
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import lzma
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ACTORS = ["Donald Trump", "Hillary Clinton", "Democratic Party"]
MODES = ("local1", "local2", "ray", "naive", "scale")

if str(REPO) not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, str(REPO))


def data_root() -> Path:
    """The shared data folder, resolved as the training harness does ($SLANT_DATA_ROOT wins)."""
    from training.config import data_root as resolve

    root = resolve(str(REPO.parent / "shared" / "data"))
    return root if root.is_absolute() else (Path.cwd() / root)


def load_articles(path: Path, *, count: int, min_words: int) -> list[dict[str, str]]:
    """The first ``count`` articles with at least ``min_words`` words, as {"id", "text"} rows."""
    out: list[dict[str, str]] = []
    with lzma.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            art = json.loads(line)
            text = art.get("content_original") or art.get("content") or ""
            if len(text.split()) >= min_words:
                out.append({"id": str(art.get("ID")), "text": text})
                if len(out) == count:
                    break
    if len(out) < count:
        print(f"only {len(out)} articles of {min_words}+ words in {path}", file=sys.stderr)
    return out


def write_jsonl(path: Path, rows: list[dict[str, str]], n: int) -> Path:
    """``n`` rows cycling through ``rows`` (ids made unique per repeat)."""
    with path.open("w", encoding="utf-8") as f:
        for i, row in zip(range(n), itertools.cycle(rows), strict=False):
            f.write(json.dumps({"id": f"{row['id']}-{i}", "text": row["text"]}) + "\n")
    return path


def build_tiny_model(path: Path) -> Path:
    """The test suite's tiny randomly initialised BERT (``tests/conftest.py``), 128-token windows."""
    from transformers.utils import logging as hf_logging

    from tests.conftest import build_tiny_model_dir

    hf_logging.disable_progress_bar()
    return build_tiny_model_dir(path, max_length=128)


def _tree_rss(pid: int) -> int | None:
    """Resident bytes of ``pid`` and all its descendants (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        root = psutil.Process(pid)
        total = root.memory_info().rss
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)
    except psutil.Error:
        return 0


def measure(cmd: list[str], *, timeout: float) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, peak RSS (MiB) of its process tree, exit code, stdout, stderr."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("RAY_ADDRESS", None)  # a local Ray, never a cluster the shell happens to point at
    peak, summed = 0, True
    # Output goes to files, not pipes: Ray logs a lot, and a full pipe would stall the child.
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out_f, stderr=err_f, text=True)
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                break
            rss = _tree_rss(proc.pid)
            if rss is None:
                summed = False
            else:
                peak = max(peak, rss)
            time.sleep(0.2)
        proc.wait()
        seconds = time.perf_counter() - t0
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if not summed:  # the largest process waited for so far (Linux reports KiB)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "seconds": seconds,
        "peak_mib": peak / 2**20,
        "rc": proc.returncode,
        "stdout": out,
        "stderr": err,
        "summed": summed,
    }


def label_cmd(src: Path, out: Path, model: str, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "service.cli", "label", str(src), "-o", str(out), "-m", model]
    for actor in ACTORS:
        cmd += ["-a", actor]
    return [*cmd, "--id-field", "id", "--evidence", "1", "--no-progress", *extra]


def naive(model: str, src: Path) -> None:
    """The baseline, run in its own process: one pipeline call per (actor, article), 512 tokens."""
    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    clf = pipeline("text-classification", model=model, tokenizer=model, device=-1, dtype=torch.float32)
    max_length = min(512, int(getattr(clf.model.config, "max_position_embeddings", 512)))
    n = 0
    t0 = time.perf_counter()
    with src.open(encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            for actor in ACTORS:
                clf({"text": actor, "text_pair": text}, truncation="only_second", max_length=max_length)
            n += 1
    loop = time.perf_counter() - t0
    print(json.dumps({"rows_read": n, "labelled": n, "max_length": max_length, "loop_seconds": loop}))


Result = tuple[str, int, dict[str, Any], bool]
"""(mode, rows, measurement, whether it is compared with the naive loop)."""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "default"), help="model directory")
    ap.add_argument("--articles", type=int, default=2000, help="articles for the slant label modes")
    ap.add_argument("--naive-articles", type=int, default=200, help="articles for the naive loop (a subset)")
    ap.add_argument("--min-words", type=int, default=100, help="skip articles shorter than this")
    ap.add_argument("--scale-rows", default="2000,20000", help="row counts for the memory-scaling pair")
    ap.add_argument(
        "--scale-model", choices=["tiny", "real"], default="tiny", help="model for the memory-scaling rows"
    )
    ap.add_argument("--modes", default=",".join(MODES), help=f"subset of {','.join(MODES)}")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds allowed per mode")
    ap.add_argument("--out", type=Path, help="also write the markdown table to this file")
    ap.add_argument("--naive-run", type=Path, help=argparse.SUPPRESS)  # internal: the baseline process
    args = ap.parse_args(argv)
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.mode_list) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.naive_run:
        naive(args.model, args.naive_run)
        return 0
    source = data_root() / "article_bias_prediction" / "articles.jsonl.xz"
    if not source.exists():
        raise SystemExit(f"{source} not found: set SLANT_DATA_ROOT to the shared data folder")
    articles = load_articles(source, count=args.articles, min_words=args.min_words)
    words = sum(len(a["text"].split()) for a in articles) / max(1, len(articles))
    print(f"{len(articles)} articles, mean {words:.0f} words; actors: {', '.join(ACTORS)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="slant-bench-label-") as tmp_name:
        results = _run_modes(args, articles, Path(tmp_name))
    table = _table(args, articles, words, results)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0 if all(r["rc"] == 0 for _, _, r, _ in results) else 1


def _run_modes(args: argparse.Namespace, articles: list[dict[str, Any]], tmp: Path) -> list[Result]:
    """Run each asked-for mode in its own process, one after the other; its measurement per mode."""
    results: list[Result] = []
    modes = args.mode_list
    src = write_jsonl(tmp / "articles.jsonl", articles, len(articles))

    def record(name: str, rows: int, res: dict[str, Any], compare: bool = True) -> None:
        results.append((name, rows, res, compare))
        status = "" if res["rc"] == 0 else f"  FAILED rc={res['rc']}: {res['stderr'][-800:]}"
        print(
            f"{name}: {rows} rows, {res['seconds']:.1f} s, peak {res['peak_mib']:.0f} MiB{status}", flush=True
        )

    n = len(articles)
    if "naive" in modes:
        sub = write_jsonl(tmp / "naive.jsonl", articles, min(n, args.naive_articles))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--model", args.model, "--naive-run", str(sub)]
        record(
            "naive pipeline loop, 1 pair per call, first 512 tokens (a subset)",
            min(n, args.naive_articles),
            measure(cmd, timeout=args.timeout),
        )
    if "local1" in modes:
        cmd = label_cmd(src, tmp / "l1.jsonl", args.model, "--workers", "1")
        record("slant label, local, 1 worker", n, measure(cmd, timeout=args.timeout))
    if "local2" in modes:
        cmd = label_cmd(src, tmp / "l2.jsonl", args.model, "--workers", "2")
        record("slant label, local, 2 workers", n, measure(cmd, timeout=args.timeout))
    if "ray" in modes:
        cmd = label_cmd(src, tmp / "ray.parquet", args.model, "--engine", "ray", "--workers", "2")
        record("slant label, ray (local Ray), 2 workers", n, measure(cmd, timeout=args.timeout))
    if "scale" in modes:
        model = str(build_tiny_model(tmp / "tiny")) if args.scale_model == "tiny" else args.model
        which = "tiny random model" if args.scale_model == "tiny" else "real model"
        for rows in [int(r) for r in args.scale_rows.split(",") if r.strip()]:
            big = write_jsonl(tmp / f"scale-{rows}.jsonl", articles, rows)
            out = tmp / f"scale-{rows}.jsonl.out.jsonl"
            res = measure(label_cmd(big, out, model, "--workers", "1"), timeout=args.timeout)
            repeated = " (articles repeated)" if rows > n else ""
            record(f"memory scaling: local, 1 worker, {which}{repeated}", rows, res, compare=False)
            out.unlink(missing_ok=True)
    return results


def _table(
    args: argparse.Namespace, articles: list[dict[str, Any]], words: float, results: list[Result]
) -> str:
    """The Markdown table of all modes, with the machine and the speed-up over the naive loop."""
    import torch

    naive_rate = None
    for name, rows, r, _ in results:
        if name.startswith("naive") and r["rc"] == 0:
            # The baseline's rate leaves out its start-up and model load (the slant modes keep
            # theirs), so a short run cannot flatter the speed-up.
            loop = json.loads(r["stdout"].strip().splitlines()[-1])["loop_seconds"]
            r["rate"] = naive_rate = rows / max(loop, 1e-9)
    summed = all(r["summed"] for _, _, r, _ in results)
    lines = [
        f"Machine: {platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"Python {platform.python_version()}. Model: {args.model}.",
        f"Articles: {len(articles)} from articles.jsonl.xz (content_original, {args.min_words}+ words, "
        f"mean {words:.0f}); actors per article: {', '.join(ACTORS)}. Seconds: wall time of the whole "
        "subprocess, model load included; articles/s = rows / seconds, except for the naive loop, "
        "whose rate counts its loop only (no start-up, no model load). Peak RSS: "
        + ("sum over the process tree." if summed else "largest process."),
        "",
        "| mode | rows | seconds | articles/s | speed-up vs naive | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows, r, compare in results:
        if r["rc"] != 0:
            lines.append(f"| {name} | {rows} | failed (rc {r['rc']}) | - | - | {r['peak_mib']:.0f} |")
            continue
        rate = r.get("rate") or rows / r["seconds"]
        speedup = f"{rate / naive_rate:.2f}x" if compare and naive_rate else "-"
        lines.append(
            f"| {name} | {rows} | {r['seconds']:.1f} | {rate:.2f} | {speedup} | {r['peak_mib']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
