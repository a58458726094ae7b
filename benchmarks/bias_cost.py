"""What each bias head costs per article, side by side in one run.

Runs ``StancePredictor.analyze`` on the same real news articles (Article-Bias-Prediction,
600+ words, 3 actors) with the heads added one at a time:

- stance only (no bias heads);
- + leaning (reads the first ``lead_sentences`` sentences of each article);
- + leaning + hyperpartisan (the same sentences: the second article head is a dot product);
- + loaded language (every sentence, up to ``model.bias.MAX_SENTENCES``).

Each configuration is timed ``--repeats`` times in rotation (so machine noise spreads over all of
them) and the median is reported, with the extra milliseconds per article over stance only.
The sentence sequences ride in the same length-sorted batches as the stance windows.

    python benchmarks/bias_cost.py --articles 32 --repeats 3
    python benchmarks/bias_cost.py --loaded-head models/loaded-language-babe --backend torch
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench_service import ACTORS, load_articles  # noqa: E402

from model import StancePredictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "models" / "default"))
    ap.add_argument("--loaded-head", default=str(REPO / "models" / "loaded-language-babe"))
    ap.add_argument("--backend", default=None, help="default: $SLANT_BACKEND or auto")
    ap.add_argument("--articles", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"))
    args = ap.parse_args()

    articles = load_articles(
        Path(args.data_root) / "article_bias_prediction" / "articles.jsonl.xz", count=args.articles
    )
    kwargs = {"backend": args.backend} if args.backend else {}
    predictor = StancePredictor.load(args.model, heads=[args.loaded_head], **kwargs)
    all_heads = dict(predictor.heads)
    configs = [
        ("stance only", []),
        ("+ leaning", ["leaning"]),
        ("+ leaning + hyperpartisan", ["leaning", "hyperpartisan"]),
        ("+ loaded language (all three)", ["leaning", "hyperpartisan", "loaded_language"]),
    ]
    configs = [(name, tasks) for name, tasks in configs if all(t in all_heads for t in tasks)]
    predictor.analyze(articles[:2], ACTORS)  # warm-up: ONNX session, spaCy
    times: dict[str, list[float]] = {name: [] for name, _ in configs}
    sentences: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, tasks in configs:
            predictor.heads = {t: all_heads[t] for t in tasks}
            start = time.perf_counter()
            out = predictor.analyze(articles, ACTORS)
            times[name].append(time.perf_counter() - start)
            sentences[name] = sum(a.bias.sentences for a in out if a.bias is not None)
    words = statistics.mean(len(a.split()) for a in articles)
    print(
        f"\n{len(articles)} articles (mean {words:.0f} words), actors {', '.join(ACTORS)}; backend "
        f"{predictor.backend.name}; median of {args.repeats}; {platform.processor() or platform.machine()}"
    )
    base = statistics.median(times["stance only"]) / len(articles)
    print("| heads | sentences encoded per article | ms per article | extra ms per article | articles/s |")
    print("|---|---|---|---|---|")
    for name, _ in configs:
        per = statistics.median(times[name]) / len(articles)
        print(
            f"| {name} | {sentences[name] / len(articles):.1f} | {per * 1000:.0f} | "
            f"{(per - base) * 1000:+.0f} | {1 / per:.2f} |"
        )


if __name__ == "__main__":
    main()
