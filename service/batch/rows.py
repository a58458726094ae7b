"""The row-processing function both engines share: validate rows, predict, build output records.

A batch of raw rows becomes (results, errors). Rows are validated first (text with
``check_text``, actors with ``parse_actors``), so a bad row never reaches the predictor; the parsed
``Actor`` values are what the predictor is given, so nothing is parsed twice (``--actor`` is parsed
once, by :class:`RowOptions`). If ``predict`` still raises for a batch, the batch is retried row
by row and only the row that fails is reported. Every error record carries the row number, the
id when known, a code (``SlantError.code`` where the core raised one) and the reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model.actors import Actor, parse_actors
from model.errors import InvalidInputError, SlantError
from model.linking import parse_year
from model.text import check_text

from .output import OUTPUT_COLUMNS
from .sources import RawRow

log = logging.getLogger(__name__)

UNREADABLE = "unreadable_row"
PREDICTION_FAILED = "prediction_failed"


@dataclass(frozen=True)
class RowOptions:
    """Options that decide what a row's output is (they are recorded in the resume manifest)."""

    text_field: str = "text"
    id_field: str | None = None
    actors: tuple[Any, ...] | None = None
    actors_field: str | None = None
    date_field: str | None = None
    """Column holding each row's publication date (``--date-field``): its year fixes time-bound titles."""
    evidence: int = 3
    discover_limit: int = 5
    bias: bool = False
    """Add each row's ``bias`` (the model's bias heads: leaning, hyperpartisan, loaded language)."""
    keep_fields: tuple[str, ...] = ()
    """Input columns copied into each output row as they are (``--keep-fields``: outlet, date, ...)."""
    parsed_actors: tuple[Actor, ...] | None = field(default=None, init=False, repr=False, compare=False)
    """``actors`` parsed, once, here: what the predictor is given (the manifest records ``actors``)."""

    def __post_init__(self) -> None:
        # Frozen: set through object.__setattr__. The engines' workers get the options pickled,
        # parsed actors included, so no worker parses them again.
        if self.actors is not None:
            object.__setattr__(self, "parsed_actors", tuple(parse_actors(list(self.actors), field="--actor")))
        object.__setattr__(self, "keep_fields", check_keep_fields(self.keep_fields))

    @property
    def columns(self) -> list[str]:
        """Input columns to read, the text column first."""
        cols = [self.text_field]
        for c in (self.id_field, self.actors_field, self.date_field, *self.keep_fields):
            if c and c not in cols:
                cols.append(c)
        return cols

    def to_json(self) -> dict[str, Any]:
        out = {
            "text_field": self.text_field,
            "id_field": self.id_field,
            "actors": list(self.actors) if self.actors is not None else None,
            "actors_field": self.actors_field,
            "evidence": self.evidence,
            "discover_limit": self.discover_limit,
        }
        # Only when on: a partial run started before --bias existed still resumes without it.
        if self.bias:
            out["bias"] = True
        if self.keep_fields:  # likewise: only when given
            out["keep_fields"] = list(self.keep_fields)
        if self.date_field is not None:  # likewise
            out["date_field"] = self.date_field
        return out


def check_keep_fields(names: Sequence[str]) -> tuple[str, ...]:
    """``--keep-fields`` as a tuple of distinct names; refuse blanks and the output's own columns.

    >>> check_keep_fields(["source", "date"])
    ('source', 'date')
    """
    kept: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                "--keep-fields names an empty column",
                field="--keep-fields",
                fix="name the input columns to keep, separated by commas: --keep-fields source,date",
            )
        if name in OUTPUT_COLUMNS:
            raise InvalidInputError(
                f"--keep-fields names {name!r}, a column that slant label writes itself "
                f"({', '.join(OUTPUT_COLUMNS)})",
                field="--keep-fields",
                fix="rename that column in the input"
                + (" (the id column is kept with --id-field)" if name == "id" else ""),
            )
        if name not in kept:
            kept.append(name)
    return tuple(kept)


def json_safe(value: Any, *, field: str | None = None) -> Any:
    """A kept input value as a JSON value: dates and times as ISO 8601 strings, bytes refused.

    Parquet and Hugging Face inputs give ``datetime``/``date``/``Decimal`` values that JSON
    cannot hold; the output keeps what a reader can parse back.
    """
    import datetime as _dt
    import decimal

    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [json_safe(v, field=field) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v, field=field) for k, v in value.items()}
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    raise InvalidInputError(
        f"a kept field holds a {type(value).__name__}, which cannot be written as JSON",
        field=field,
        fix="keep only text, number, date, list or struct columns with --keep-fields",
    )


@dataclass
class _Prepared:
    row: int
    id: Any
    text: str
    actors: list[Actor] | None
    kept: dict[str, Any]
    year: int | None = None


def _as_text(value: Any, field: str) -> str:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # Undecodable input bytes were kept as surrogates by the reader: give them back as
            # bytes so check_text reports the bad byte and its position.
            try:
                value = value.encode("utf-8", errors="surrogateescape")
            except UnicodeEncodeError:
                raise InvalidInputError(
                    "text contains unpaired UTF-16 surrogates", field=field, fix="send valid Unicode text"
                ) from None
    return check_text(value, field=field)


def _row_id(raw: RawRow, opts: RowOptions) -> Any:
    if opts.id_field is None:
        return raw.row
    value = (raw.record or {}).get(opts.id_field)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        found = "nothing" if value in (None, "") else type(value).__name__
        raise InvalidInputError(
            f"expected a string or number id, found {found}",
            field=opts.id_field,
            fix="give every row an id, or leave out --id-field to use row numbers",
        )
    text = str(value)
    _check_unicode(text, opts.id_field)
    return text


def _check_unicode(value: Any, field: str) -> None:
    """Refuse strings that cannot be written as UTF-8, anywhere in ``value`` (a cell: str, list, dict).

    The reader keeps an undecodable byte as a surrogate (surrogateescape) and JSON can carry lone
    UTF-16 surrogates ("\\ud800"): either would pass and then crash its chunk's commit, on every
    resume too, so the row goes to the errors file here.
    """
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_unicode(item, f"{field}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(item, f"{field}.{key}")
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            char = value[exc.start]
            if "\udc80" <= char <= "\udcff":
                raise InvalidInputError(
                    f"not valid UTF-8 (bad byte 0x{ord(char) - 0xDC00:02x} at character {exc.start})",
                    field=field,
                    fix="decode the file with its real encoding and save it as UTF-8",
                ) from None
            raise InvalidInputError(
                f"contains an unpaired UTF-16 surrogate (\\u{ord(char):04x}) at character {exc.start}, "
                "which is not valid Unicode",
                field=field,
                fix="write the character itself, or its surrogate pair, in the input",
            ) from None


def _strip_nulls(item: Any) -> Any:
    # Parquet structs and Arrow-read JSON give every struct field, with None for the missing ones.
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if v is not None}
    return item


def _row_actors(raw: RawRow, opts: RowOptions) -> list[Actor] | None:
    """The row's own actors, parsed, or None to discover (no --actors-field, or an empty cell)."""
    if opts.actors_field is None:
        return None
    value = (raw.record or {}).get(opts.actors_field)
    field = opts.actors_field
    if _empty_cell(value):
        return None
    _check_unicode(value, field)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidInputError(
                    "actors cell starts with '[' but is not a JSON list",
                    field=field,
                    fix='write a JSON list (["DNC", "Bernie Sanders"]) or names separated by ";"',
                ) from None
        else:
            value = [part.strip() for part in text.split(";") if part.strip()]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise InvalidInputError(
            f"expected a list of actors or a ';'-separated string, found {type(value).__name__}",
            field=field,
            fix='e.g. ["DNC", "Bernie Sanders"] or "DNC; Bernie Sanders"',
        )
    return parse_actors([_strip_nulls(v) for v in value], field=field)


def _row_year(raw: RawRow, opts: RowOptions) -> int | None:
    """The year of the row's date (``--date-field``), or None: no such option, or an empty cell."""
    if opts.date_field is None:
        return None
    value = (raw.record or {}).get(opts.date_field)
    if _empty_cell(value):
        return None
    return parse_year(value, field=opts.date_field)


def _empty_cell(value: Any) -> bool:
    """No value: missing, blank text, or NaN (an empty cell of a numeric column in Parquet or pandas)."""
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def error_record(
    raw_row: int, row_id: Any, code: str, reason: str, field: str | None = None
) -> dict[str, Any]:
    """One line of the errors file."""
    return {"id": row_id, "row": raw_row, "code": code, "field": field, "reason": reason}


def _prepare(raw: RawRow, opts: RowOptions) -> _Prepared | dict[str, Any]:
    if raw.record is None:
        return error_record(raw.row, None, UNREADABLE, raw.problem or "row cannot be read")
    row_id: Any = raw.row if opts.id_field is None else None
    try:
        row_id = _row_id(raw, opts)
        text = _as_text(raw.record.get(opts.text_field), opts.text_field)
        actors = _row_actors(raw, opts)
        year = _row_year(raw, opts)
        kept = {}
        for name in opts.keep_fields:
            value = json_safe(raw.record.get(name), field=name)
            _check_unicode(value, name)
            kept[name] = value
    except SlantError as exc:
        return error_record(raw.row, row_id, exc.code, str(exc), exc.field)
    return _Prepared(raw.row, row_id, text, actors, kept, year)


def _predict(predictor: Any, rows: Sequence[_Prepared], opts: RowOptions) -> list[tuple[list[Any], Any]]:
    """(stance results, bias or None) per row: ``predict``, or ``analyze`` with ``--bias``."""
    per_text = [r.actors for r in rows] if opts.actors_field is not None else None
    texts = [r.text for r in rows]
    actors = list(opts.parsed_actors) if opts.parsed_actors is not None else None
    kwargs: dict[str, Any] = {
        "per_text_actors": per_text,
        "dates": [r.year for r in rows] if opts.date_field is not None else None,
        "discover_limit": opts.discover_limit,
        "evidence": opts.evidence,
    }
    if not opts.bias:
        return [(stances, None) for stances in predictor.predict(texts, actors, **kwargs)]
    return [(a.stance, a.bias) for a in predictor.analyze(texts, actors, bias=True, **kwargs)]


def _result(predictor: Any, row: _Prepared, found: tuple[list[Any], Any], opts: RowOptions) -> dict[str, Any]:
    stances, bias = found
    out: dict[str, Any] = {"id": row.id, "row": row.row, **row.kept, "actors": [s.to_dict() for s in stances]}
    if opts.bias:
        out["bias"] = bias.to_dict() if bias is not None else None
    out["model"] = predictor.name
    out["version"] = predictor.version
    return out


def label_batch(
    predictor: Any, batch: Sequence[RawRow], opts: RowOptions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Label one batch of raw rows: (output records, error records), each in input order.

    >>> results, errors = label_batch(predictor, rows, RowOptions(actors=("DNC",)))  # doctest: +SKIP
    """
    results: dict[int, dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    good: list[_Prepared] = []
    for raw in batch:
        prepared = _prepare(raw, opts)
        if isinstance(prepared, dict):
            errors.append(prepared)
        else:
            good.append(prepared)
    if good:
        try:
            for row, found in zip(good, _predict(predictor, good, opts), strict=True):
                results[row.row] = _result(predictor, row, found, opts)
        except Exception as exc:
            if len(good) == 1:
                errors.append(_failure(good[0], exc))
            else:
                log.warning("a batch of %d rows failed (%s); retrying row by row", len(good), exc)
                for row in good:
                    try:
                        results[row.row] = _result(predictor, row, _predict(predictor, [row], opts)[0], opts)
                    except Exception as one:
                        errors.append(_failure(row, one))
    errors.sort(key=lambda e: e["row"])
    return [results[k] for k in sorted(results)], errors


def _failure(row: _Prepared, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, SlantError):
        return error_record(row.row, row.id, exc.code, str(exc), exc.field)
    log.warning("row %d failed: %s: %s", row.row, type(exc).__name__, exc)
    return error_record(row.row, row.id, PREDICTION_FAILED, f"{type(exc).__name__}: {exc}")
