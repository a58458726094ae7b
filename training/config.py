"""The training configuration: one YAML/TOML file holds every setting, validated strictly.

Unknown keys are rejected (``extra="forbid"``) so a typo fails loudly instead of being ignored.
Any value can be overridden from the command line with ``--set training.epochs=1``.

A config may start from another one: ``extends: default-stage3.yaml`` (a path relative to the
file that says it) loads that file first and lays this one over it (:func:`merge_config`).
Mappings merge key by key, and a plain value or a list replaces the parent's. A list of named
sources (``train``, ``eval``, ``calibration``, ``aggregator.data``) can instead be edited by name,
by giving a mapping of names::

    extends: default-stage3.yaml
    version: "5"
    train:
      contrast-train-repeat: {swap_names: false}     # merged into the parent's source of that name
      vast-unrelated: null                           # dropped
      reported:                                      # new: appended, or placed after another source
        path: training/labelled/reported/reported.jsonl
        root: project
        after: composites

The parent's sources keep their order (training shuffles the mix with the config's seed, so the
order is part of what makes a run repeatable).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeGuard

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from model.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupHoldout(_Strict):
    """Carve a held-out part from a split that has none, grouped so no group is on both sides."""

    by: str = "target"
    fraction: float = Field(0.1, gt=0, lt=1)
    part: Literal["train", "holdout"] = "train"


class TextJoin(_Strict):
    """Where a row's text lives when the file keeps only ids: a JSONL file (``.xz`` too) under the
    data root, and the fields that join the two (slant's article-level labels on corpus articles)."""

    path: str
    key: str = Field("article", description="the labelled row's field that holds the record's id")
    id_field: str = Field("ID", description="the id field of the text file's records")
    field: str = Field("content_original", description="the text field of the text file's records")


class DatasetSpec(_Strict):
    """One source of labelled rows: a JSONL/CSV file, a saved dataset directory, or a hub dataset."""

    name: str
    path: str | None = None
    root: Literal["data", "project"] = Field(
        "data", description="'path' is under the data root (default) or the project directory"
    )
    hf: str | None = Field(None, description="Hugging Face datasets name, e.g. 'tweet_eval'")
    hf_config: str | None = None
    hf_split: str = "train"
    where: dict[str, str | list[str]] = Field(default_factory=dict)
    text_field: str = "text"
    target_field: str = "target"
    label_field: str = "label"
    alias_field: str | None = Field(
        None, description="a field naming the target as this text does (NewsMTSC's mention), added to aliases"
    )
    max_rows: int | None = Field(None, gt=0)
    holdout: GroupHoldout | None = None
    strip: list[str] = Field(default_factory=list, description="regexes removed from the text")
    exclude_text: list[str] = Field(
        default_factory=list, description="regexes: a row whose text matches one is left out"
    )
    text_from: TextJoin | None = Field(
        None, description="read each row's text from another file by id (the labels file has no text)"
    )
    swap_names: bool = Field(
        False,
        description="rename each row's target person to a made-up name (training/augment.py); "
        "rows that cannot be renamed stay as they are",
    )

    @field_validator("strip", "exclude_text")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"{p!r} is not a valid regular expression ({exc})") from None
        return patterns

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.path is None) == (self.hf is None):
            raise ValueError(f"dataset {self.name!r}: give exactly one of 'path' or 'hf'")
        return self


class Hyper(_Strict):
    epochs: float = Field(3.0, gt=0)
    batch_size: int = Field(32, gt=0)
    grad_accum: int = Field(1, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    logging_steps: int = Field(50, gt=0)
    max_steps: int = Field(-1, description="stop after this many steps (-1: run all epochs)")


class AggregatorConfig(_Strict):
    """Article-level aggregation fitted on labelled articles after fine-tuning."""

    data: list[DatasetSpec] = Field(default_factory=list)
    max_windows: int = Field(16, gt=0)
    c: float = Field(1.0, gt=0, description="inverse L2 strength of the logistic aggregator")
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="a weight per data source name (default 1; 'labels': a retrain's stance labels)",
    )

    @field_validator("weights", mode="before")
    @classmethod
    def _no_weights(cls, value: Any) -> Any:
        return {} if value is None else value  # `weights: null` in a config that extends another

    @model_validator(mode="after")
    def _weights_name_sources(self) -> AggregatorConfig:
        names = {s.name for s in self.data} | {"labels"}
        for name, w in self.weights.items():
            if name not in names:
                raise ValueError(
                    f"aggregator.weights names {name!r}, which is not an aggregator.data source "
                    f"(sources: {', '.join(sorted(names))})"
                )
            if not w > 0:
                raise ValueError(f"aggregator.weights[{name!r}] must be above 0, found {w}")
        return self


class TrainConfig(_Strict):
    name: str
    version: str = "1"
    base_model: str
    seed: int = 13
    max_length: int = Field(128, ge=16, le=512)
    data_root: str = "../shared/data"
    train: list[DatasetSpec] = Field(min_length=1)
    eval: list[DatasetSpec] = Field(default_factory=list)
    training: Hyper = Field(default_factory=Hyper)
    aggregator: AggregatorConfig = Field(default_factory=AggregatorConfig)
    window_format: int = Field(
        2, ge=1, le=2, description="1: plain windows; 2: actor mentions wrapped in [TGT] markers"
    )
    head: Literal["cls", "markers"] = Field(
        "cls",
        description="cls: the pooled CLS state; markers: CLS + the mean state of the [TGT] markers "
        "(window format 2 only; see model/heads.py)",
    )
    calibration: list[DatasetSpec] = Field(
        default_factory=list, description="dev rows one softmax temperature is fitted on (log-loss)"
    )
    fp16_weights: bool = True
    output_dir: str = "runs/model"

    @model_validator(mode="after")
    def _markers_need_marked_windows(self) -> TrainConfig:
        if self.head == "markers" and self.window_format != 2:
            raise ValueError(
                "head 'markers' pools the [TGT] marker states, which only window format 2 has: "
                "set window_format: 2, or head: cls"
            )
        return self


MAX_CONFIG_BYTES = 256 * 1024
"""Largest training config file read (256 KiB; the committed ones are a few kB)."""

CONFIG_SUFFIXES = (".yaml", ".yml", ".toml")


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML or TOML config, apply ``key.sub=value`` overrides, validate.

    The file must be a regular file of at most :data:`MAX_CONFIG_BYTES`; errors name the file and
    the position of a syntax error, never its content.

    >>> cfg = load_config("training/configs/default.yaml", ["training.epochs=1"])  # doctest: +SKIP
    """
    path = Path(path)
    raw = _resolved(path, ())
    for item in overrides or []:
        _apply_override(raw, item)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{path} does not validate: {validation_problems(exc)}", fix="see training/configs/default.yaml"
        ) from None


#: How many ``extends:`` a config may chain (a loop is reported as one before this is reached).
MAX_EXTENDS_DEPTH = 8


def _read_raw(path: Path) -> dict[str, Any]:
    text = read_config_text(path)
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(exc)}", fix="fix the syntax") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {str(exc)[:200]}", fix="fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, found {type(raw).__name__}")
    return raw


def _resolved(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The settings of ``path`` with its ``extends:`` parents laid under them."""
    raw = _read_raw(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent.strip():
        raise ConfigError(
            f"{path}: extends must be the path of one config file, found {parent!r}",
            fix="write e.g. extends: default-stage3.yaml (relative to this file)",
        )
    base = (path.parent / parent).resolve()
    seen = (*chain, path.resolve())
    if base in seen:
        loop = " -> ".join(p.name for p in (*seen, base))
        raise ConfigError(f"{path}: extends makes a loop ({loop})", fix="make one of them stand alone")
    if len(seen) > MAX_EXTENDS_DEPTH:
        raise ConfigError(
            f"{path}: more than {MAX_EXTENDS_DEPTH} configs chained by extends",
            fix="extend a config that stands alone",
        )
    under = _resolved(base, seen)
    try:
        return merge_config(under, raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", fix=exc.fix) from None


def merge_config(parent: dict[str, Any], child: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``child`` laid over ``parent``: mappings merge, values and lists replace, and a mapping
    given for a list of named sources edits it by name (see the module docstring)."""
    out = dict(parent)
    for key, value in child.items():
        here = f"{where}{key}"
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = merge_config(old, value, here + ".")
        elif isinstance(value, dict) and _named_list(old):
            out[key] = _edit_by_name(old, value, here)
        else:
            out[key] = value
    return out


def _named_list(value: Any) -> TypeGuard[list[dict[str, Any]]]:
    return isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value)


def _edit_by_name(items: list[dict[str, Any]], edits: dict[str, Any], where: str) -> list[dict[str, Any]]:
    out = [dict(item) for item in items]

    def index(name: Any) -> int | None:
        return next((i for i, item in enumerate(out) if item["name"] == name), None)

    def names() -> str:
        return ", ".join(str(item["name"]) for item in out)

    for name, patch in edits.items():
        at = index(name)
        if patch is None:
            if at is None:
                raise ConfigError(
                    f"{where}: cannot drop {name!r}, the parent config has no source of that name",
                    fix=f"use one of: {names()}",
                )
            del out[at]
            continue
        if not isinstance(patch, dict):
            raise ConfigError(
                f"{where}.{name}: expected the settings to change (a mapping) or null to drop it, "
                f"found {type(patch).__name__}",
                fix="write e.g. {swap_names: true}",
            )
        patch = dict(patch)
        after = patch.pop("after", None)
        if at is not None:
            if after is not None:
                raise ConfigError(
                    f"{where}.{name}: 'after' places a new source; {name!r} is already in the parent",
                    fix="drop 'after', or drop the source (null) and add it under a new name",
                )
            out[at] = merge_config(out[at], patch, f"{where}.{name}.")
            continue
        if "path" not in patch and "hf" not in patch:
            raise ConfigError(
                f"{where}.{name}: the parent config has no source named {name!r} to change, and as a "
                "new source it needs a 'path' or 'hf'",
                fix=f"change one of: {names()}; or give the new source's path",
            )
        item = {"name": name, **patch}
        if after is None:
            out.append(item)
            continue
        anchor = index(after)
        if anchor is None:
            raise ConfigError(
                f"{where}.{name}: after {after!r}, but there is no source of that name",
                fix=f"use one of: {names()}",
            )
        out.insert(anchor + 1, item)
    return out


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field.sub: message; other: message``."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular file (not a FIFO, device or directory, which could block
    or never end) of at most :data:`MAX_CONFIG_BYTES`, in UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", fix="check the path") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot open config file {path}: {exc.strerror or type(exc).__name__}", fix="check the path"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"config {path} is not a regular file (it is {_file_kind(mode)})",
                fix="give a YAML or TOML file",
            )
        data = b""
        while len(data) <= MAX_CONFIG_BYTES and (chunk := os.read(fd, MAX_CONFIG_BYTES + 1 - len(data))):
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is larger than the limit of {MAX_CONFIG_BYTES:,} bytes",
            fix="a training config is a few kB of YAML or TOML; check that this is the right file",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (bad byte at byte {exc.start})",
            fix="give a YAML or TOML file encoded as UTF-8",
        ) from None


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's problem and where, without the excerpt of the file that ``str(exc)`` quotes."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{str(problem)[:100]}{where}"


def _apply_override(raw: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not key=value", fix="write e.g. --set training.epochs=1")
    key, value = item.split("=", 1)
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key!r}: {part!r} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The project checkout: where ``root: project`` dataset paths (slant's own labelled sets) live."""


def spec_path(spec: DatasetSpec, config_root: str) -> Path:
    """Where a file source lives: under the data root, or (``root: project``) in the project."""
    base = PROJECT_DIR if spec.root == "project" else data_root(config_root)
    return base / str(spec.path)


def data_root(config_root: str) -> Path:
    """``$SLANT_DATA_ROOT`` wins over the config's ``data_root`` (relative to the working directory)."""
    return Path(os.environ.get("SLANT_DATA_ROOT", config_root))


def main(argv: list[str] | None = None) -> int:
    """``python -m training.config PATH [key=value ...]``: the config as training reads it.

    Prints the whole, validated settings (``extends:`` resolved, overrides applied) as YAML.
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m training.config CONFIG [key.sub=value ...]")
        return 0 if args else 2
    try:
        cfg = load_config(args[0], args[1:])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = cfg.model_dump(mode="json", exclude_defaults=True)
    print(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
