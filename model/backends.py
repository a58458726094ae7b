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


#: Bumped when the exported graph changes (2: eager attention, second output ``hidden``), so that
#: a cache entry from an older export is never loaded.
EXPORT_VERSION = 2


class Backend(Protocol):
    """Computes classifier logits, or logits and the encoder's last hidden states, for one padded batch."""

    name: str

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray: ...

    def both(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]: ...


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

    def both(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        feed = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            out = self.model(**feed, output_hidden_states=True)
            return out.logits.float().cpu().numpy(), out.hidden_states[-1].float().cpu().numpy()


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
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.name = name
        self.path = path

    def _run(self, outputs: list[str], batch: dict[str, np.ndarray]) -> list[np.ndarray]:
        missing = [o for o in outputs if o not in self.outputs]
        if missing:
            raise ModelLoadError(
                f"the ONNX model {self.path} has no {missing[0]!r} output (an export from an older slant)",
                fix=f"delete {self.path.parent} so that it is exported again",
            )
        feed = {k: batch[k].astype(np.int64) for k in self.inputs}
        return [np.asarray(o, dtype=np.float32) for o in self.session.run(outputs, feed)]

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self._run(["logits"], batch)[0]

    def both(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        logits, hidden = self._run(["logits", "hidden"], batch)
        return logits, hidden


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
    """``$SLANT_CACHE``, default ``~/.cache/slant``: ONNX exports, bias features, downloads."""
    return Path(os.environ.get("SLANT_CACHE") or Path.home() / ".cache" / "slant")


def _with_hidden_output(model: Any) -> Any:
    """``model`` wrapped so that an export has two outputs: logits and last hidden states."""
    import torch

    class LogitsAndHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> tuple[Any, Any]:
            kw = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **kw
            )
            return out.logits, out.hidden_states[-1]

    return LogitsAndHidden().eval()


def onnx_cache_dir(weights: str) -> Path:
    """Where the ONNX exports of a model are cached: by its weights hash and the export version."""
    return cache_dir() / "onnx" / f"{weights}-v{EXPORT_VERSION}"


def export_onnx(model: Any, tokenizer: Any, out_dir: Path, *, quantize: bool) -> Path:
    """Export ``model`` (fp32) to ``out_dir/model.onnx``, and ``model-int8.onnx`` if ``quantize``.

    The graph has two outputs: ``logits`` (the stance head) and ``hidden`` (the encoder's last
    hidden states, which the bias heads pool). Attention is exported in its eager form: ONNX
    Runtime runs that graph about 1.25x faster on a CPU than the exported SDPA one.

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
        cpu = _with_hidden_output(_fp32_copy(model))
        sample = tokenizer(["Bernie Sanders"] * 2, ["He is right.", "A longer second text."], padding=True)
        names = [k for k in _INPUTS if k in sample]
        args = {k: torch.tensor(sample[k]) for k in names}
        axes = {k: {0: "batch", 1: "tokens"} for k in names} | {
            "logits": {0: "batch"},
            "hidden": {0: "batch", 1: "tokens"},
        }
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
                    output_names=["logits", "hidden"],
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

    cpu = copy.deepcopy(model).float().cpu().eval()
    if hasattr(cpu, "set_attn_implementation"):
        cpu.set_attn_implementation("eager")
    return cpu


def resolve_backend(name: str, device: str) -> str:
    """The backend ``name`` names on ``device``: ``auto`` is ``torch`` on a GPU, else ``CPU_BACKEND``."""
    check_backend(name)
    if name == "auto":
        return "torch" if device != "cpu" else CPU_BACKEND
    return name


def make_backend(
    name: str, model: Any, tokenizer: Any, device: str, *, onnx_dir: Path | None = None
) -> Backend:
    """The backend ``name`` for ``model``; ONNX files come from ``onnx_dir`` or the cache."""
    name = resolve_backend(name, device)
    if name == "torch":
        return TorchBackend(model, device)
    if device != "cpu":
        raise ConfigError(
            f"the {name} backend runs on the CPU, but the predictor was asked for {device}",
            field="backend",
            fix="use --backend torch on a GPU",
        )
    quantize = name == "onnx-int8"
    directory = onnx_dir or onnx_cache_dir(weights_hash(model))
    path = directory / ("model-int8.onnx" if quantize else "model.onnx")
    if not path.exists():
        log.info("exporting the model to %s (once per set of weights)", path)
        path = export_onnx(model, tokenizer, directory, quantize=quantize)
    try:
        return OnnxBackend(path, name)
    except ImportError:
        raise ConfigError(f"the {name} backend needs onnxruntime", fix="pip install onnxruntime") from None
    except Exception as exc:  # a corrupt or foreign file in the cache
        raise ModelLoadError(
            f"cannot load the ONNX model {path}: {exc}",
            fix=f"delete {directory} so that it is exported again",
        ) from exc
