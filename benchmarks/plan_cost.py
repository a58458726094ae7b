"""Windows and planning CPU per article on the service benchmark's articles and actors.

Runs on whichever code is first on ``sys.path`` (the current directory), so the same script
measures another checkout: ``cd <checkout> && python <this tree>/benchmarks/plan_cost.py``.
"""

from __future__ import annotations

import itertools
import json
import lzma
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from model.actors import parse_actors  # noqa: E402
from model.text import analyse_many, clean  # noqa: E402
from model.windows import MARKED, WindowBuilder  # noqa: E402

DATA = Path(
    os.environ.get("SLANT_DATA_ROOT", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)
ACTORS = ["Donald Trump", "Hillary Clinton", "Democratic Party"]


def main(count: int = 24, runs: int = 3) -> None:
    arts: list[str] = []
    with lzma.open(DATA / "article_bias_prediction" / "articles.jsonl.xz", "rt", encoding="utf-8") as f:
        for line in itertools.islice(f, 400):
            content = json.loads(line).get("content") or ""
            if len(content.split()) >= 600:
                arts.append(content)
                if len(arts) == count:
                    break
    actors = parse_actors(ACTORS)
    builder = WindowBuilder(lambda t: len(t.split()) <= 100, fmt=MARKED, max_windows=16)
    cleaned = [clean(a) for a in arts]
    docs = analyse_many(cleaned, entities=False)
    start, windows = time.process_time(), 0
    for _ in range(runs):
        for a, c, d in zip(arts, cleaned, docs, strict=True):
            windows += len(builder.plan(a, actors, c, d).windows)
    per_article = (time.process_time() - start) / (runs * len(arts))
    print(
        json.dumps(
            {"articles": len(arts), "windows": windows // runs, "plan_cpu_ms": round(per_article * 1e3, 1)}
        )
    )


if __name__ == "__main__":
    main()
