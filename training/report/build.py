"""``build``: a report over labelled articles, planned, then written as named steps.

The plan (:class:`ReportPlan`) is what the options mean for this file: which column groups the
rows, which one dates them, which actors are reported. Every check that can fail runs before
anything is written; the report is written into a temporary folder beside ``out`` and renamed
into place at the end, so a failed run leaves no half-written report.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.errors import ConfigError, InvalidInputError

from .aggregate import ALL, MISSING, Aggregates, tables
from .plan import ReportPlan
from .read import iter_chunks, not_labelled, open_labelled

log = logging.getLogger(__name__)

FREQS = {"W": "weeks", "M": "months"}
BY_LEANING = "leaning"


@dataclass
class ReportSummary:
    """What ``build`` wrote: printed as JSON by ``slant report``."""

    out: str
    page: str
    rows: int
    scored: int
    actors: list[str]
    groups: int
    periods: int
    seconds: float
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


def _require() -> None:
    missing = []
    for module in ("pandas", "matplotlib", "jinja2", "pyarrow"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(
            f"slant report needs {', '.join(missing)}, which is not installed",
            fix="pip install 'slant[report]'",
        )


def build(
    labelled: str | Path,
    *,
    out: str | Path,
    by: str | None = None,
    time_column: str | None = None,
    freq: str = "W",
    actors: Sequence[str] | None = None,
    model: str | Path | None = None,
    bootstrap: int = 1000,
    min_articles: int = 5,
    low_margin: float = 0.2,
    max_groups: int = 20,
    max_lines: int = 5,
    skip_bad_dates: bool = False,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    chunk_rows: int = 20_000,
) -> ReportSummary:
    """Write a report over ``slant label`` output into the folder ``out``.

    ``out/index.html`` is one self-contained page (figures embedded, no network); beside it
    ``figures/`` (PNG and SVG) and ``aggregates/`` (tidy CSV and Parquet, ``summary.json``).
    ``by`` names the column that groups the rows (one kept with ``slant label --keep-fields``;
    ``"leaning"`` without such a column: the model's leaning of each article, from ``--bias``);
    ``time_column`` a date column for the over-time view, in ``freq`` periods (``W`` or ``M``).

    >>> from training.report import build
    >>> build("labelled.jsonl", out="report", by="source", time_column="date", freq="M")  # doctest: +SKIP
    ReportSummary(out='report', page='report/index.html', rows=2000, ...)
    """
    t0 = time.perf_counter()
    _require()
    plan = _plan(
        labelled,
        out=Path(out),
        by=by,
        time_column=time_column,
        freq=freq,
        actors=actors,
        bootstrap=bootstrap,
        min_articles=min_articles,
        low_margin=low_margin,
        max_groups=max_groups,
        max_lines=max_lines,
        skip_bad_dates=skip_bad_dates,
        seed=seed,
        force=force,
    )
    agg = _read(plan, progress=progress, chunk_rows=chunk_rows)
    reported = _check_actors(plan, agg)
    from .page import calibration

    caveat = calibration(model, agg)
    result = _tables(plan, agg, reported)
    files = _write(plan, agg, result, reported, caveat, seconds=time.perf_counter() - t0)
    return _summary(plan, agg, result, reported, files, seconds=time.perf_counter() - t0)


def _tables(plan: ReportPlan, agg: Aggregates, reported: list[str]) -> dict[str, Any]:
    """The report's tables, periods tidied, the stance tables kept to the ``reported`` actors."""
    time_groups = _top_groups(agg, plan.max_lines) if plan.by or plan.by_leaning else []
    result = tables(
        agg,
        by=plan.by or (BY_LEANING if plan.by_leaning else None),
        draws=plan.bootstrap,
        seed=plan.seed,
        min_articles=plan.min_articles,
        time_groups=time_groups,
    )
    result = _tidy_periods(result, plan.freq)
    for name in ("stance_by_group", "stance_over_time", "evidence"):
        frame = result[name]
        if len(frame):
            result[name] = frame[frame["actor"].isin(reported)].reset_index(drop=True)
    return result


def _summary(
    plan: ReportPlan,
    agg: Aggregates,
    result: dict[str, Any],
    reported: list[str],
    files: list[str],
    *,
    seconds: float,
) -> ReportSummary:
    scored = int(result["stance_by_group"]["n"].sum()) if len(result["stance_by_group"]) else 0
    periods = result["stance_over_time"]["period"].nunique() if len(result["stance_over_time"]) else 0
    return ReportSummary(
        out=str(plan.out),
        page=str(plan.out / "index.html"),
        rows=agg.rows,
        scored=scored,
        actors=reported,
        groups=len(agg.group_rows),
        periods=int(periods),
        seconds=seconds,
        files=files,
    )


def _plan(labelled: str | Path, *, out: Path, force: bool, **kw: Any) -> ReportPlan:
    freq = str(kw["freq"]).upper()
    if freq not in FREQS:
        raise InvalidInputError(
            f"--freq is {kw['freq']!r}", field="--freq", fix="use W (weeks) or M (months)"
        )
    for name, value, low in (
        ("--bootstrap", kw["bootstrap"], 10),
        ("--min-articles", kw["min_articles"], 1),
        ("--max-groups", kw["max_groups"], 1),
        ("--max-lines", kw["max_lines"], 1),
    ):
        if value < low:
            raise InvalidInputError(f"{name} is {value}; it must be at least {low}", field=name)
    if not 0 <= kw["low_margin"] <= 1:
        raise InvalidInputError(
            f"--low-margin is {kw['low_margin']}; it must be between 0 and 1", field="--low-margin"
        )
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"{out} is a file", field="--output", fix="name a folder for the report")
    if out.exists() and any(out.iterdir()) and not force:
        raise InvalidInputError(
            f"{out} already exists and is not empty",
            field="--output",
            fix="pass --force to replace it, or choose another --output folder",
        )
    found = open_labelled(labelled)
    actors = list(dict.fromkeys(a.strip() for a in kw["actors"] or [] if a.strip())) or None
    return ReportPlan(
        labelled=found,
        out=out,
        by=kw["by"] or None,
        by_leaning=False,
        time=kw["time_column"] or None,
        freq=freq,
        actors=actors,
        bootstrap=int(kw["bootstrap"]),
        min_articles=int(kw["min_articles"]),
        low_margin=float(kw["low_margin"]),
        max_groups=int(kw["max_groups"]),
        max_lines=int(kw["max_lines"]),
        skip_bad_dates=bool(kw["skip_bad_dates"]),
        seed=int(kw["seed"]),
    )


def _columns_seen(chunk: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for rec in chunk[:1000]:
        seen.update(dict.fromkeys(rec))
    return list(seen)


def _check_columns(plan: ReportPlan, columns: list[str]) -> None:
    """The first chunk (or the Parquet schema) has the columns the options name, or a clear error."""
    where = plan.labelled.path
    if "actors" not in columns:
        raise not_labelled(where, columns)
    metadata = [c for c in columns if c not in ("id", "row", "actors", "bias", "model", "version")]
    shown = ", ".join(metadata) if metadata else "none: only what slant label writes"
    if plan.by and plan.by not in columns:
        if plan.by == BY_LEANING and "bias" in columns:
            plan.by_leaning, plan.by = True, None
        else:
            extra = " (or label with --bias to group by the model's leaning)" if plan.by == BY_LEANING else ""
            raise InvalidInputError(
                f"{where} has no column {plan.by!r} to group by; its metadata columns: {shown}",
                field="--by",
                fix=f"label the articles with `slant label ... --keep-fields {plan.by}` so that the output "
                f"carries it{extra}, or name one of its columns with --by",
            )
    if plan.time and plan.time not in columns:
        raise InvalidInputError(
            f"{where} has no date column {plan.time!r}; its metadata columns: {shown}",
            field="--time",
            fix=f"label the articles with `slant label ... --keep-fields {plan.time}` (the input's date "
            "column), name another column with --time, or leave out --time for no over-time view",
        )


def _read(plan: ReportPlan, *, progress: bool, chunk_rows: int) -> Aggregates:
    agg = Aggregates(low_margin=plan.low_margin)
    if plan.labelled.columns is not None:
        _check_columns(plan, plan.labelled.columns)
    wanted = ["id", "actors", "bias", "model", "version", *(c for c in (plan.by, plan.time) if c)]
    actors = set(plan.actors) if plan.actors else None
    first = True
    for chunk in iter_chunks(plan.labelled, columns=wanted, chunk_rows=chunk_rows, progress=progress):
        if first and plan.labelled.columns is None:
            _check_columns(plan, _columns_seen(chunk))
        first = False
        groups = _groups(plan, chunk)
        periods = _periods(plan, chunk, agg) if plan.time else None
        agg.add(chunk, groups=groups, periods=periods, actors=actors)
    if agg.rows == 0:
        raise InvalidInputError(
            f"{plan.labelled.path} has no labelled rows",
            field="LABELLED",
            fix="label some articles first (`slant label INPUT -o FILE`), and check that the run finished",
        )
    return agg


def _group_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.strip() or MISSING


def _groups(plan: ReportPlan, chunk: list[dict[str, Any]]) -> list[str]:
    if plan.by:
        return [_group_value(rec.get(plan.by)) for rec in chunk]
    if plan.by_leaning:
        out = []
        for rec in chunk:
            bias = rec.get("bias")
            leaning = bias.get("leaning") if isinstance(bias, dict) else None
            out.append(_group_value(leaning.get("label") if isinstance(leaning, dict) else None))
        return out
    return [ALL] * len(chunk)


def _periods(plan: ReportPlan, chunk: list[dict[str, Any]], agg: Aggregates) -> list[Any]:
    """Each row's period (a pandas Period) or None for a row without a date."""
    import pandas as pd

    assert plan.time is not None
    raw = pd.Series([rec.get(plan.time) for rec in chunk], dtype=object)
    text = raw.map(lambda v: None if v is None else str(v).strip() or None)
    blank = text.isna()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    retry = parsed.isna() & ~blank
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=True)
    bad = parsed.isna() & ~blank
    if bad.any():
        if not plan.skip_bad_dates:
            examples = [
                f"row {chunk[i].get('id', i)!r}: {text.iloc[i]!r}" for i in bad[bad].index[:3].tolist()
            ]
            raise InvalidInputError(
                f"column {plan.time!r} of {plan.labelled.path} has dates that cannot be read, e.g. "
                + "; ".join(examples),
                field="--time",
                fix="write dates as ISO 8601 (2016-09-20, 2016-09-20T14:05:00Z), or pass --skip-bad-dates "
                "to leave those rows out of the over-time view (they are counted on the page)",
            )
        agg.bad_dates += int(bad.sum())
    agg.undated += int(blank.sum())
    periods = parsed.dt.tz_convert(None).dt.to_period(plan.freq)
    return [None if pd.isna(p) else p for p in periods]


def _check_actors(plan: ReportPlan, agg: Aggregates) -> list[str]:
    scored: dict[str, int] = {}
    for (actor, _), cell in agg.by_group.items():
        scored[actor] = scored.get(actor, 0) + cell.n
    if plan.actors:
        never = [a for a in plan.actors if not scored.get(a)]
        if never:
            known = _labelled_actors(plan)
            listing = ", ".join(f"{a} ({n})" for a, n in sorted(known, key=lambda kv: -kv[1])[:15])
            raise InvalidInputError(
                f"{', '.join(map(repr, never))} never labelled in {plan.labelled.path}: no row has a "
                "scored stance toward "
                + ("it" if len(never) == 1 else "them")
                + (f"; actors labelled there (rows scored): {listing}" if listing else ""),
                field="--actors",
                fix="use the canonical names slant label wrote (`actor` in each result), or label the "
                "articles for that actor (`slant label ... -a NAME`)",
            )
        return list(plan.actors)
    ranked = sorted(((n, a) for a, n in scored.items() if n), key=lambda t: (-t[0], t[1]))
    if not ranked:
        raise InvalidInputError(
            f"no row of {plan.labelled.path} has a scored stance toward any actor (every actor is "
            "not_mentioned)",
            field="LABELLED",
            fix="label articles that mention the actors, or name the actors with `slant label -a`",
        )
    if len(ranked) > 12:
        log.warning(
            "%d actors were labelled; reporting the 12 scored most often (name others with --actors)",
            len(ranked),
        )
    return [a for _, a in ranked[:12]]


def _labelled_actors(plan: ReportPlan) -> list[tuple[str, int]]:
    """Every actor scored in the file, with its count (a second read, only to write an error)."""
    counts: dict[str, int] = {}
    for chunk in iter_chunks(plan.labelled, columns=["actors"], progress=False):
        for rec in chunk:
            for res in rec.get("actors") or ():
                if res.get("status") in ("scored", "scored_unmentioned"):
                    counts[res.get("actor")] = counts.get(res.get("actor"), 0) + 1
    return list(counts.items())


def _top_groups(agg: Aggregates, k: int) -> list[str]:
    ranked = sorted(agg.group_rows.items(), key=lambda kv: (-kv[1], kv[0]))
    return [g for g, _ in ranked if g != MISSING][:k]


def _tidy_periods(result: dict[str, Any], freq: str) -> dict[str, Any]:
    over = result["stance_over_time"]
    if len(over):
        periods = over["period"]
        over.insert(3, "period_label", periods.map(str))
        over["period"] = periods.map(lambda p: p.start_time.date().isoformat())
    return result


def _write(
    plan: ReportPlan,
    agg: Aggregates,
    result: dict[str, Any],
    actors: list[str],
    caveat: dict[str, Any],
    *,
    seconds: float,
) -> list[str]:
    from .page import write_report

    out = plan.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        files = write_report(tmp, plan=plan, agg=agg, tables=result, actors=actors, caveat=caveat)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return files
