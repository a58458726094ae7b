"""Interpolate two fine-tuned checkpoints' weights (WiSE-FT, Wortsman et al. 2022), for model selection.

    .venv/bin/python benchmarks/weight_soup.py --old models/default --new runs/s3c --alpha 0.3 \
        --out runs/soup30

``alpha`` is the weight of the old model. The new model's tokenizer, slant.json (window format,
temperature, aggregator) and extra marker-token embeddings are kept; re-run
``slant train --finalize-only`` on the result to refit its temperature and aggregator.

A marker-head model (``model/heads.py``) mixes with a CLS-head one: the encoder's weights are
matched by name under either prefix, and the CLS model's classifier counts as a marker-head
classifier whose marker half is zero (what converting it would give).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def _counterpart(key: str, old: dict[str, torch.Tensor]) -> str | None:
    """The old model's name for ``key`` when one model is a marker-head model and the other is not."""
    for a, b in (("encoder.", "bert."), ("bert.", "encoder.")):
        if key.startswith(a) and b + key[len(a) :] in old:
            return b + key[len(a) :]
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--alpha", type=float, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    old = load_file(str(Path(args.old) / "model.safetensors"))
    new = load_file(str(Path(args.new) / "model.safetensors"))
    mixed = {}
    for k, v in new.items():
        w = v.float()
        k_old = k if k in old else _counterpart(k, old)
        if k_old is not None:
            o = old[k_old].float()
            if o.dim() == 2 and w.dim() == 2 and o.shape[0] == w.shape[0] and 2 * o.shape[1] == w.shape[1]:
                o = torch.cat([o, torch.zeros_like(o)], dim=1)  # CLS classifier -> [CLS ; marker=0]
            if o.shape == w.shape:
                w = args.alpha * o + (1 - args.alpha) * w
            elif o.shape[1:] == w.shape[1:] and o.shape[0] < w.shape[0]:  # grown vocabulary (markers)
                w = w.clone()
                w[: o.shape[0]] = args.alpha * o + (1 - args.alpha) * w[: o.shape[0]]
        mixed[k] = w.to(v.dtype)
    out = Path(args.out)
    shutil.copytree(
        args.new, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("bias", "model.safetensors")
    )
    save_file(mixed, str(out / "model.safetensors"), metadata={"format": "pt"})
    print(out)


if __name__ == "__main__":
    main()
