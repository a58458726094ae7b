"""The output of ``slant label``: its format, its columns and its Arrow/Parquet schema.

An output row is ``id``, ``row``, the kept input fields (``--keep-fields``), ``actors`` (each an
``ActorStance.to_dict()``), ``bias`` with ``--bias`` (``Bias.to_dict()``), ``model`` and
``version``; the JSONL rows and the Parquet schema have the same shape. The Arrow types of
``actors`` and ``bias`` are read from the result dataclasses in :mod:`model.types`, the keys of
their probability structs from the label sets (:mod:`model.labels`, :mod:`model.tasks`) and the
loaded leaning head, so that a field added to a result type is a column here without a copy.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from model.errors import InvalidInputError
from model.labels import STANCE_LABELS
from model.types import ActorStance, Bias, Evidence, Leaning

from .sources import JSONL_SUFFIXES, PARQUET_SUFFIXES

OutputFormat = Literal["jsonl", "parquet"]

OUTPUT_FORMATS: tuple[str, ...] = ("jsonl", "parquet")

OUTPUT_COLUMNS: tuple[str, ...] = ("id", "row", "actors", "bias", "model", "version")
"""The columns ``slant label`` writes itself: a kept input field may not take one of these names."""

MENTION_KINDS: tuple[str, ...] = typing.get_args(typing.get_type_hints(Evidence)["via"])
"""How an actor can be named (``Evidence.via``): the keys of ``ActorStance.mentions_via``."""


def detect_output_format(output: str, given: str | None = None) -> OutputFormat:
    """The output format from ``--format``, else from the output's extension."""
    if given:
        if given not in OUTPUT_FORMATS:
            raise InvalidInputError(
                f"unknown output format {given!r}", field="--format", fix="use jsonl or parquet"
            )
        return given  # type: ignore[return-value]
    suffix = Path(output.rstrip("/")).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise InvalidInputError(
        f"cannot tell the output format of {output} from its name",
        field="--output",
        fix="name it .jsonl or .parquet, or pass --format jsonl|parquet",
    )


# -- Arrow types of the result dataclasses -------------------------------------------------------


class _ArrowTypes:
    """Arrow types of the predictor's result dataclasses, field by field in declaration order.

    A dataclass is a struct of its fields followed by its properties (``to_dict`` writes both, e.g.
    ``LoadedLanguage.share``); ``X | None`` is ``X`` (every Arrow field is nullable); a ``Literal``
    of strings is a string. A ``dict[str, V]`` field is a struct with one field per key, its keys
    declared in ``keys`` by (class, field); a (class, field) in ``nulls`` is always null.
    """

    def __init__(
        self, keys: Mapping[tuple[type, str], Sequence[str]], nulls: frozenset[tuple[type, str]] = frozenset()
    ) -> None:
        self.keys = keys
        self.nulls = nulls

    def struct(self, cls: type) -> Any:
        import pyarrow as pa

        hints = typing.get_type_hints(cls)
        members = [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]
        members += [
            (name, typing.get_type_hints(attr.fget)["return"])
            for name, attr in vars(cls).items()
            if isinstance(attr, property) and attr.fget is not None
        ]
        return pa.struct([(name, self.field(cls, name, hint)) for name, hint in members])

    def field(self, owner: type, name: str, hint: Any) -> Any:
        import pyarrow as pa

        if (owner, name) in self.nulls:
            return pa.null()
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            (inner,) = [a for a in args if a is not type(None)]
            return self.field(owner, name, inner)
        if origin is Literal and all(isinstance(a, str) for a in args):
            return pa.string()
        if origin is list:
            return pa.list_(self.field(owner, name, args[0]))
        if origin is dict:
            value = self.field(owner, name, args[1])
            return pa.struct([(key, value) for key in self.keys[(owner, name)]])
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return self.struct(hint)
        scalars = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
        if hint not in scalars:
            raise TypeError(f"{owner.__name__}.{name}: no Arrow type for {hint!r}; add one to _ArrowTypes")
        return scalars[hint]


def _result_types(leaning_labels: Sequence[str] | None) -> _ArrowTypes:
    keys: dict[tuple[type, str], Sequence[str]] = {
        (ActorStance, "probabilities"): STANCE_LABELS,
        (Evidence, "probabilities"): STANCE_LABELS,
        (ActorStance, "mentions_via"): MENTION_KINDS,
        (Leaning, "probabilities"): leaning_labels or (),
    }
    # Without a leaning head, ``leaning`` is always null and typed as such.
    nulls = frozenset() if leaning_labels else frozenset({(Bias, "leaning")})
    return _ArrowTypes(keys, nulls)


def actor_type() -> Any:
    """The Arrow type of one entry of a row's ``actors`` (``model.ActorStance.to_dict()``)."""
    return _result_types(None).struct(ActorStance)


def bias_type(leaning_labels: Sequence[str] | None) -> Any:
    """The Arrow type of a row's ``bias`` (``model.Bias.to_dict()``): a struct, null when absent.

    ``leaning.probabilities`` has one field per label of the loaded leaning head; without a
    leaning head, ``leaning`` is always null and typed as such.
    """
    return _result_types(leaning_labels).struct(Bias)


def output_schema(
    *,
    id_is_row: bool,
    bias: bool = False,
    leaning_labels: Sequence[str] | None = None,
    kept: Sequence[tuple[str, Any]] = (),
) -> Any:
    """The Arrow schema of output rows (the JSONL rows have the same shape).

    ``id`` is the row number (int64) when no id column is given, else the input's id as a string.
    The kept input fields (``--keep-fields``; ``kept`` holds their names and Arrow types, see
    :func:`kept_field_types`) follow ``row``. With ``bias`` (``slant label --bias``) a ``bias``
    struct follows ``actors`` (see :func:`bias_type`).

    >>> output_schema(id_is_row=True).names
    ['id', 'row', 'actors', 'model', 'version']
    """
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.int64() if id_is_row else pa.string()),
            ("row", pa.int64()),
            *kept,
            ("actors", pa.list_(actor_type())),
            *([("bias", bias_type(leaning_labels))] if bias else []),
            ("model", pa.string()),
            ("version", pa.string()),
        ]
    )


# -- kept input fields ---------------------------------------------------------------------------


def _infer(values: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values).type
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.string()  # mixed types (a number here, a string there): kept as text


def kept_field_types(parts: Sequence[Path], names: Sequence[str]) -> list[tuple[str, Any]]:
    """The Parquet type of each kept field, read from the JSON values of every part.

    One type over all parts: the same type everywhere (nulls aside) stays; integers beside
    floats become float64; anything else mixed becomes a string (non-strings written as JSON).
    A field null on every row is a string column of nulls.
    """
    if not names:
        return []
    import pyarrow as pa

    seen: dict[str, set[Any]] = {n: set() for n in names}
    for part in parts:
        with part.open("rb") as f:
            records = [json.loads(line) for line in f]
        for name in names:
            t = _infer([r.get(name) for r in records])
            if not pa.types.is_null(t):
                seen[name].add(t)
    out = []
    for name in names:
        types_ = seen[name]
        if len(types_) == 1:
            out.append((name, next(iter(types_))))
        elif types_ and all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types_):
            out.append((name, pa.float64()))
        else:
            out.append((name, pa.string()))
    return out


def text_fields(kept: Sequence[tuple[str, Any]]) -> list[str]:
    """The kept fields typed as strings: their non-string values are written as JSON text."""
    import pyarrow as pa

    return [name for name, t in kept if t == pa.string()]


def as_text(value: Any) -> Any:
    """A kept value in a string column: None and strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
