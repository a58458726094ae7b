"""What both engines share about a run: the checked job they are given and the summary they return.

The local engine (:mod:`service.batch.runner`) and the Ray engine (:mod:`service.batch.ray_engine`)
import this module and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .output import OutputFormat
from .rows import RowOptions


@dataclass(frozen=True)
class LabelJob:
    """One ``slant label`` run, its options checked: what to read, how to label, where to write."""

    input: str
    output: str
    output_format: OutputFormat
    opts: RowOptions
    model: str | None = None
    input_format: str | None = None
    split: str = "train"
    batch_size: int = 32
    workers: int = 1
    chunk_size: int = 1000
    force: bool = False
    backend: str | None = None
    device: str | None = None
    progress: bool = True
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0


@dataclass
class LabelSummary:
    """What a run did; printed as JSON at the end of ``slant label``."""

    rows_read: int = 0
    labelled: int = 0
    errors: int = 0
    resumed_rows: int = 0
    seconds: float = 0.0
    output: str = ""
    errors_file: str = ""
    engine: str = "local"
    workers: int = 1
    model: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        computed = self.rows_read - self.resumed_rows
        return {
            "rows_read": self.rows_read,
            "labelled": self.labelled,
            "errors": self.errors,
            "resumed_rows": self.resumed_rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(computed / self.seconds, 3) if self.seconds > 0 else None,
            "output": self.output,
            "errors_file": self.errors_file,
            "engine": self.engine,
            "workers": self.workers,
            "model": self.model,
        }


def model_identity(
    model: str | None, loaded: dict[str, str], *, backend: str | None = None
) -> dict[str, str]:
    """What the manifest records about the model: where it came from, its name, version and backend
    (``backend``, else the default every worker uses: ``$SLANT_BACKEND`` or ``auto``)."""
    from model.backends import default_backend
    from model.predictor import default_model_path

    source = model or default_model_path()
    path = Path(source)
    return {
        "source": str(path.resolve()) if path.exists() else source,
        "backend": backend or default_backend(),
        **loaded,
    }
