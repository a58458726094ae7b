"""Where the classifier's forward pass runs: PyTorch, or ONNX Runtime (fp32 or int8).

The predictor hands a backend padded numpy batches and gets logits back; everything else
(cleaning, windows, aggregation) is the same whichever backend runs.

- ``auto`` (the default): ``torch`` on a GPU, ``CPU_BACKEND`` on a CPU.
- ``torch``: the Hugging Face model as loaded (fp32 on CPU, the saved dtype on a GPU).
- ``onnx``: the same weights exported to ONNX and run by ONNX Runtime (CPU).
- ``onnx-int8``: that export with its linear layers quantised to int8 per channel
  (``onnxruntime.quantization.quantize_dynamic``): about twice as fast on a CPU, at a
  small, measured accuracy cost (see ``benchmarks/speed_accuracy.py`` and the README).

The ONNX files are built on first use from the model's own weights and cached under
``$SLANT_CACHE`` (default ``~/.cache/slant``), keyed by a hash of the weights, so a retrained
model never reuses a stale export. ``slant export-onnx`` builds them ahead of time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ConfigError, ModelLoadError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
#: ``auto``: torch on a GPU; on a CPU, this one.
CPU_BACKEND = "onnx-int8"
DEFAULT_BACKEND = "auto"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Backend(Protocol):
    """Computes classifier logits for one padded batch."""

    name: str

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray: ...


def default_backend() -> str:
    """``$SLANT_BACKEND`` if set, else ``auto`` (the predictor's default, like ``$SLANT_MODEL``)."""
    return os.environ.get("SLANT_BACKEND") or DEFAULT_BACKEND


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ConfigError(
            f"unknown inference backend {name!r}",
            field="backend",
            fix=f"use one of: {', '.join(BACKENDS)}",
        )
    return name


class TorchBackend:
    """The Hugging Face model itself."""

    name = "torch"

    def __init__(self, model: Any, device: str) -> None:
        self.model = model
        self.device = device

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        feed = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            out: np.ndarray = self.model(**feed).logits.float().cpu().numpy()
        return out


class OnnxBackend:
    """An ONNX Runtime session over an exported copy of the model (CPU)."""

    def __init__(self, path: Path, name: str, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _torch_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.name = name
        self.path = path

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: batch[k].astype(np.int64) for k in self.inputs}
        out: np.ndarray = self.session.run(None, feed)[0]
        return out.astype(np.float32)


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def weights_hash(model: Any) -> str:
    """A short hash of the model's weights (names, shapes and values)."""
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("SLANT_CACHE") or Path.home() / ".cache" / "slant")


def export_onnx(model: Any, tokenizer: Any, out_dir: Path, *, quantize: bool) -> Path:
    """Export ``model`` (fp32) to ``out_dir/model.onnx``, and ``model-int8.onnx`` if ``quantize``.

    Files are written under temporary names and renamed into place, so a crash never leaves a
    half-written model that a later load would pick up.
    """
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import torch
    except ImportError as exc:
        raise ConfigError(
            f"the ONNX backends need the {exc.name} package", fix="pip install onnx onnxruntime"
        ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / "model.onnx"
    if not fp32.exists():
        cpu = _fp32_copy(model)
        sample = tokenizer(["Bernie Sanders"] * 2, ["He is right.", "A longer second text."], padding=True)
        names = [k for k in _INPUTS if k in sample]
        args = {k: torch.tensor(sample[k]) for k in names}
        axes = {k: {0: "batch", 1: "tokens"} for k in names} | {"logits": {0: "batch"}}
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            part = Path(tmp) / "model.onnx"
            import warnings

            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    cpu,
                    (),
                    str(part),
                    kwargs=args,
                    input_names=names,
                    output_names=["logits"],
                    dynamic_axes=axes,
                    opset_version=17,
                    dynamo=False,
                )
            os.replace(part, fp32)
    if not quantize:
        return fp32
    int8 = out_dir / "model-int8.onnx"
    if not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing tip at warning level
        try:
            with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
                part = Path(tmp) / "model-int8.onnx"
                quantize_dynamic(str(fp32), str(part), per_channel=True, weight_type=QuantType.QInt8)
                os.replace(part, int8)
        finally:
            root.setLevel(level)
    return int8


def _fp32_copy(model: Any) -> Any:
    import copy

    return copy.deepcopy(model).float().cpu().eval()


def make_backend(
    name: str, model: Any, tokenizer: Any, device: str, *, onnx_dir: Path | None = None
) -> Backend:
    """The backend ``name`` for ``model``; ONNX files come from ``onnx_dir`` or the cache."""
    check_backend(name)
    if name == "auto":
        name = "torch" if device != "cpu" else CPU_BACKEND
    if name == "torch":
        return TorchBackend(model, device)
    if device != "cpu":
        raise ConfigError(
            f"the {name} backend runs on the CPU, but the predictor was asked for {device}",
            field="backend",
            fix="use --backend torch on a GPU",
        )
    quantize = name == "onnx-int8"
    directory = onnx_dir or cache_dir() / "onnx" / weights_hash(model)
    path = directory / ("model-int8.onnx" if quantize else "model.onnx")
    if not path.exists():
        log.info("exporting the model to %s (once per set of weights)", path)
        path = export_onnx(model, tokenizer, directory, quantize=quantize)
    try:
        return OnnxBackend(path, name)
    except ImportError:
        raise ConfigError(
            f"the {name} backend needs onnxruntime", fix="pip install onnxruntime"
        ) from None
    except Exception as exc:  # a corrupt or foreign file in the cache
        raise ModelLoadError(
            f"cannot load the ONNX model {path}: {exc}",
            fix=f"delete {directory} so that it is exported again",
        ) from exc
