"""Synthetic ``slant label`` output (outlet, date, stance per actor, evidence): for benchmarks and tests.

Each outlet leans toward or against each actor by a fixed amount, so a report has something to show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from model.labels import STANCE_LABELS

OUTLETS = ["Daily Ledger", "Evening Post", "Metro Wire", "Capitol Report", "Valley Times", "Harbor News"]
ACTORS = ["Donald Trump", "Hillary Clinton", "Democratic Party"]


def synthetic_rows(
    n: int, *, seed: int = 0, start: str = "2016-01-04", days: int = 180, bias: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` labelled rows like ``slant label --keep-fields source,date`` writes."""
    rng = np.random.default_rng(seed)
    first = np.datetime64(start)
    tilt = rng.normal(0, 1.2, size=(len(OUTLETS), len(ACTORS)))
    for i in range(n):
        o = int(rng.integers(len(OUTLETS)))
        date = str(first + np.timedelta64(int(rng.integers(days)), "D"))
        results: list[dict[str, Any]] = []
        for a, actor in enumerate(ACTORS):
            if rng.random() < 0.2:
                results.append(
                    {
                        "actor": actor,
                        "status": "not_mentioned",
                        "label": None,
                        "probabilities": None,
                        "mentions": 0,
                        "aliases_matched": [],
                        "evidence": [],
                        "windows": 0,
                        "level": None,
                    }
                )
                continue
            logits = np.array([-tilt[o, a], 0.3, tilt[o, a]]) + rng.normal(0, 1, 3)
            p = np.exp(logits) / np.exp(logits).sum()
            probs = {lab: round(float(v), 4) for lab, v in zip(STANCE_LABELS, p, strict=True)}
            label = STANCE_LABELS[int(np.argmax(p))]
            ev = []
            for k in range(int(rng.integers(1, 4))):
                q = rng.dirichlet([1, 1, 1])
                ev.append(
                    {
                        "text": f"Sentence {k} of article {i} about {actor}.",
                        "start": 40 * k,
                        "end": 40 * k + 30,
                        "label": STANCE_LABELS[int(np.argmax(q))],
                        "probabilities": {
                            lab: round(float(v), 4) for lab, v in zip(STANCE_LABELS, q, strict=True)
                        },
                    }
                )
            results.append(
                {
                    "actor": actor,
                    "status": "scored",
                    "label": label,
                    "probabilities": probs,
                    "mentions": len(ev),
                    "aliases_matched": [actor],
                    "evidence": ev,
                    "windows": len(ev),
                    "level": "article",
                }
            )
        row = {"id": f"a{i:07d}", "row": i, "source": OUTLETS[o], "date": date, "actors": results}
        if bias:
            lp = rng.dirichlet([2, 1, 1])
            row["bias"] = {
                "leaning": {
                    "label": ["left", "center", "right"][int(np.argmax(lp))],
                    "probabilities": dict(zip(["left", "center", "right"], map(float, lp), strict=True)),
                },
                "hyperpartisan": float(rng.random()),
                "loaded_language": None,
                "sentences": 10,
            }
        row["model"], row["version"] = "synthetic", "0"
        yield row


def write_synthetic(path: str | Path, n: int, *, seed: int = 0, bias: bool = False) -> Path:
    """Write ``n`` synthetic labelled rows as JSONL, or as Parquet when ``path`` ends in .parquet."""
    path = Path(path)
    rows = synthetic_rows(n, seed=seed, bias=bias)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        batch: list[dict] = []
        try:
            for row in rows:
                batch.append(row)
                if len(batch) == 50_000:
                    table = pa.Table.from_pylist(batch, schema=writer.schema if writer else None)
                    writer = writer or pq.ParquetWriter(path, table.schema)
                    writer.write_table(table)
                    batch = []
            if batch:
                table = pa.Table.from_pylist(batch, schema=writer.schema if writer else None)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        return path
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path
