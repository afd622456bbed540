"""The accuracy a reduced-precision point is drawn at: the published fp32 top-1 plus the drop
measured on your own folder at that precision, or the fp32 number marked as not measured.

Why: int8 costs accuracy unevenly (EfficientNet's swish and SE quantize worse than the Lite
models' ReLU6), so a bf16 or int8 point never borrows the fp32 accuracy without saying so. The
drop comes from ``zoo evaluate --precision P``, which runs eager fp32 beside it on the same
images (docs/precision.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = ["ADJUSTED", "NOT_MEASURED", "PRECISION_NOTE", "adjust_for_precision", "measured_drops"]

#: ``precision_accuracy`` values: the top-1 was adjusted by a measured drop, or was not.
ADJUSTED = "adjusted"
NOT_MEASURED = "not measured"
#: The column saying how a row's accuracy relates to its precision (hover, table).
PRECISION_NOTE = "precision_note"


def measured_drops(evaluations: Iterable[Mapping[str, Any]], precision: str) -> dict[str, dict]:
    """Per model (timm architecture), the top-1 change at ``precision`` against eager fp32 on
    the same images, pooled over every stored evaluation that measured it (weighted by images).

    >>> rows = [{"model": "m.tag", "precision": "int8", "top1_pct": 70.0,
    ...          "reference_top1_pct": 72.0, "agreement_images": 50, "images_evaluated": 50}]
    >>> measured_drops(rows, "int8")["m"]["drop_pt"]
    -2.0
    """
    pooled: dict[str, list[float]] = {}
    for e in evaluations:
        if e.get("precision", "fp32") != precision:
            continue
        top1, fp32 = e.get("top1_pct"), e.get("reference_top1_pct")
        images = int(e.get("images_evaluated") or 0)
        if top1 is None or fp32 is None or images <= 0:
            continue
        arch = str(e["model"]).partition(".")[0]
        sums = pooled.setdefault(arch, [0.0, 0.0])
        sums[0] += (float(top1) - float(fp32)) * images
        sums[1] += images
    return {
        arch: {"drop_pt": round(total / images, 2), "images": int(images)}
        for arch, (total, images) in pooled.items()
    }


def adjust_for_precision(
    frame: pd.DataFrame, evaluations: Iterable[Mapping[str, Any]], precision: str
) -> pd.DataFrame:
    """``frame`` with ``top1_pct`` at ``precision``: fp32 as published; otherwise published +
    the measured drop where one exists (``precision_accuracy`` = ``ADJUSTED``), else the
    published fp32 number marked ``NOT_MEASURED``; ``precision_note`` says which, in words."""
    out = frame.copy()
    if precision == "fp32" or out.empty:
        out["precision_accuracy"] = ""
        out[PRECISION_NOTE] = ""
        return out
    drops = measured_drops(evaluations, precision)
    states, notes, top1 = [], [], []
    for model, published in zip(out["model"], out["top1_pct"], strict=True):
        found = drops.get(str(model).partition(".")[0])
        if found is None or published is None or pd.isna(published):
            states.append(NOT_MEASURED)
            notes.append(
                f"{precision} accuracy not measured: the published fp32 top-1 is drawn, with its "
                f"own marker (python -m zoo evaluate DIR --precision {precision} measures it)"
            )
            top1.append(published)
            continue
        states.append(ADJUSTED)
        notes.append(
            f"adjusted: {found['drop_pt']:+.1f} pt measured on {found['images']} of your images "
            f"({precision} against eager fp32 on the same images)"
        )
        top1.append(float(published) + found["drop_pt"])
    out["top1_published_fp32_pct"] = out["top1_pct"]
    out["top1_pct"] = top1
    out["precision_accuracy"] = states
    out[PRECISION_NOTE] = notes
    return out
