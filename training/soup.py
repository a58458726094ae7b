"""Weight averaging of two fine-tuned checkpoints (WiSE-FT, Wortsman et al. 2022).

Two runs fine-tuned from the same weights on different mixes can be averaged parameter by
parameter; the average often keeps most of what each run gained. The shipped default model is the
uniform average of three runs, made in two steps (`make train-default`):

    python -m training.soup --old runs/stage3-v4 --new runs/stage3-v5 --alpha 0.5 --out runs/soup-v5
    python -m training.soup --old runs/soup-v5 --new runs/stage3-v10 --alpha 0.6667 --out models/default
    slant train --config training/configs/default-stage3.yaml --output models/default --finalize-only

``alpha`` is the weight of the old model. The new model's tokenizer, slant.json (window format,
temperature, aggregator) and extra marker-token embeddings are kept, and ``slant.json`` records
the average under ``extra.soup``; re-run ``slant train --finalize-only`` on the result to refit its
temperature and aggregator and evaluate it. Bias heads are not copied: they belong to one encoder.

A marker-head model (``model/heads.py``) mixes with a CLS-head one: the encoder's weights are
matched by name under either prefix, and the CLS model's classifier counts as a marker-head
classifier whose marker half is zero (what converting it would give).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from model.errors import InvalidInputError
from model.loading import read_meta, write_meta


def _counterpart(key: str, old: dict[str, Any]) -> str | None:
    """The old model's name for ``key`` when one model is a marker-head model and the other is not."""
    for a, b in (("encoder.", "bert."), ("bert.", "encoder.")):
        if key.startswith(a) and b + key[len(a) :] in old:
            return b + key[len(a) :]
    return None


def _mix(old: Any, new: Any, alpha: float) -> Any:
    """``alpha * old + (1 - alpha) * new`` for one tensor, shapes reconciled (see the module doc)."""
    import torch

    w = new.float()
    o = old.float()
    if o.dim() == 2 and w.dim() == 2 and o.shape[0] == w.shape[0] and 2 * o.shape[1] == w.shape[1]:
        o = torch.cat([o, torch.zeros_like(o)], dim=1)  # CLS classifier -> [CLS ; marker=0]
    if o.shape == w.shape:
        return alpha * o + (1 - alpha) * w
    if o.shape[1:] == w.shape[1:] and o.shape[0] < w.shape[0]:  # grown vocabulary (markers)
        w = w.clone()
        w[: o.shape[0]] = alpha * o + (1 - alpha) * w[: o.shape[0]]
    return w


def average_weights(old: str | Path, new: str | Path, *, alpha: float, out: str | Path) -> Path:
    """Write ``out``: the model directory ``new`` with its weights averaged with ``old``'s."""
    from safetensors.torch import load_file, save_file

    if not 0.0 <= alpha <= 1.0:
        raise InvalidInputError(f"alpha is {alpha}", field="--alpha", fix="give a weight from 0 to 1")
    old_dir, new_dir, out_dir = Path(old), Path(new), Path(out)
    for d in (old_dir, new_dir):
        if not (d / "model.safetensors").is_file():
            raise InvalidInputError(
                f"{d} has no model.safetensors", field="--old/--new", fix="name two slant model directories"
            )
    old_w = load_file(str(old_dir / "model.safetensors"))
    new_w = load_file(str(new_dir / "model.safetensors"))
    mixed = {}
    for k, v in new_w.items():
        k_old = k if k in old_w else _counterpart(k, old_w)
        mixed[k] = (v if k_old is None else _mix(old_w[k_old], v, alpha)).to(v.dtype).contiguous()
    if out_dir.resolve() != new_dir.resolve():
        shutil.copytree(
            new_dir, out_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("bias", "model.safetensors")
        )
    shutil.rmtree(out_dir / "bias", ignore_errors=True)  # heads fitted on another encoder
    save_file(mixed, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    meta = read_meta(out_dir)  # the new model's slant.json, copied above
    old_meta = read_meta(old_dir)
    meta.extra = {
        **meta.extra,
        "soup": {
            "old": {"path": str(old_dir), "name": old_meta.name, "version": old_meta.version},
            "new": {"path": str(new_dir), "name": meta.name, "version": meta.version},
            "alpha_old": alpha,
        },
    }
    write_meta(out_dir, meta)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="model directory weighted by --alpha")
    ap.add_argument("--new", required=True, help="model directory whose files the result keeps")
    ap.add_argument("--alpha", type=float, required=True, help="weight of --old, from 0 to 1")
    ap.add_argument("--out", required=True, help="output model directory")
    args = ap.parse_args(argv)
    try:
        print(average_weights(args.old, args.new, alpha=args.alpha, out=args.out))
    except InvalidInputError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
