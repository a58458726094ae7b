"""Speed against accuracy for the predictor's inference options, side by side in one run.

Each variant is a backend (``torch``, ``onnx``, ``onnx-int8``), a sentence splitter (spaCy's
rule-based ``sentencizer`` or the statistical ``senter``) and a window budget per actor. For
each, the same process measures:

- dev macro-F1 on the shipped model's evaluation sets (from the training config), through
  ``predict()`` exactly as ``slant evaluate`` does;
- articles/s of ``predict()`` in-process on real 600+ word articles with 3 actors, in batches
  of 8 (no HTTP), after a warm-up.

Usage (repository root)::

    python benchmarks/speed_accuracy.py --model models/default --sets persent-dev-b,newsmtsc-rw-dev \\
        --variants torch:senter:16,torch:rules:16,onnx-int8:rules:16 --articles 48
"""

from __future__ import annotations

import argparse
import json
import lzma
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACTORS = ["Donald Trump", "Hillary Clinton", "Democratic Party"]


def load_articles(data_root: Path, n: int, min_words: int = 600) -> list[str]:
    out = []
    with lzma.open(data_root / "article_bias_prediction" / "articles.jsonl.xz", "rt", encoding="utf-8") as f:
        for line in f:
            content = json.loads(line).get("content") or ""
            if len(content.split()) >= min_words:
                out.append(content)
                if len(out) >= n:
                    break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    ap.add_argument("--config", default=str(ROOT / "training" / "configs" / "default-stage2.yaml"))
    ap.add_argument("--sets", default="persent-dev-b,newsmtsc-rw-dev,semeval2016a-dev")
    ap.add_argument("--variants", default="torch:senter:16,torch:rules:16,onnx-int8:rules:16")
    ap.add_argument("--articles", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    import model.text as text_mod
    from model import StancePredictor
    from training.config import data_root, load_config
    from training.data import load_rows
    from training.evaluate import evaluate_rows

    cfg = load_config(args.config)
    root = data_root(cfg.data_root)
    wanted = args.sets.split(",") if args.sets else []
    specs = [s for s in cfg.eval if s.name in wanted]
    missing = set(wanted) - {s.name for s in specs}
    if missing:
        sys.exit(f"unknown eval sets {sorted(missing)}; the config has {[s.name for s in cfg.eval]}")
    rows = {s.name: load_rows(s, str(root)) for s in specs}
    articles = load_articles(root, args.articles)

    results = []
    for variant in args.variants.split(","):
        backend, splitter, windows = variant.split(":")
        text_mod.SENTENCE_SPLITTER = splitter
        predictor = StancePredictor.load(args.model, backend=backend, max_windows=int(windows))
        predictor.predict(articles[:4], ACTORS)  # warm-up (and the ONNX export, on first use)
        t0 = time.perf_counter()
        n_windows = 0
        for s in range(0, len(articles), 8):
            for res in predictor.predict(articles[s : s + 8], ACTORS, evidence=1):
                n_windows += sum(r.windows for r in res)
        secs = time.perf_counter() - t0
        row = {
            "variant": variant,
            "articles_per_s": len(articles) / secs,
            "windows_per_article": n_windows / len(articles),
        }
        for name, data in rows.items():
            t1 = time.perf_counter()
            rep = evaluate_rows(predictor, data, name)
            row[name] = {"macro_f1": rep["macro_f1"], "n": rep["n"], "seconds": time.perf_counter() - t1}
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    print(
        f"\nMachine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"Python {platform.python_version()}; {len(articles)} articles (600+ words), actors {ACTORS}\n"
    )
    head = ["variant (backend:splitter:windows)", "articles/s", "windows/article"]
    head += [f"{n} macro-F1 (n={rows[n].__len__()})" for n in rows]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        cells = [r["variant"], f"{r['articles_per_s']:.2f}", f"{r['windows_per_article']:.1f}"]
        cells += [f"{r[n]['macro_f1']:.1f}" for n in rows]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
