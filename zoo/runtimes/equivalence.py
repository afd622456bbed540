"""Is a runtime's answer the model's answer? Its logits against eager fp32 on the same weights and
the same inputs (the bundled photos and seeded random images), before its latency is accepted.

Why: a runtime that computes something else must never be drawn as a faster point; one outside
the tolerances is reported as failed with its numbers and never timed. The check and the fp32
tolerance: docs/benchmarks.md, 'Runtimes' ("Verified equivalence"); the bf16/fp16 rule on
decisive inputs, and why: docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import data
from zoo.records.protocol import QUANTIZED

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

__all__ = [
    "DECISIVE_MARGIN",
    "FP32_MAX_REL",
    "INT8_MIN_CORRELATION",
    "REDUCED_MIN_CORRELATION",
    "Equivalence",
    "centre_crop",
    "check_inputs",
    "compare",
    "run_batched",
]

FP32_MAX_REL = 1e-3
DECISIVE_MARGIN = 2e-2
#: int8: the least mean Pearson correlation of an input's logits with eager fp32's (a runtime
#: computing something else scores near 0; random-weight EfficientNet-B0 in int8 about 0.88).
INT8_MIN_CORRELATION = 0.5
#: bf16/fp16: the least mean correlation (random-weight Lite0 in OpenVINO bf16: 0.997).
REDUCED_MIN_CORRELATION = 0.95
#: Seeded random images added to the photos (they exercise the whole input range).
RANDOM_INPUTS = 2
# timm's default ImageNet normalisation (the photos only need a realistic distribution).
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Equivalence:
    """A runtime's outputs against eager fp32's, and the verdict under the stated tolerance."""

    max_abs: float
    max_rel: float
    top1_pct: float
    inputs: str
    verified: bool
    reason: str  # why it failed, or what it passed

    def as_fields(self) -> dict[str, object]:
        """The measurement record's fields."""
        return {
            "verified": self.verified,
            "equiv_max_abs": self.max_abs,
            "equiv_max_rel": self.max_rel,
            "equiv_top1_pct": self.top1_pct,
            "equiv_inputs": self.inputs,
        }


def _photo_paths() -> list[Path]:
    folder = Path(data.__file__).parent / "photos"
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in _PHOTO_SUFFIXES)


def centre_crop(image: Image.Image, resolution: int) -> np.ndarray:
    """One RGB image as the check inputs are made (3×r×r float32): its centre square, bicubic
    resize, ImageNet normalisation; int8 calibration of random-weight models uses it too."""
    import numpy as np
    from PIL import Image

    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.resize((resolution, resolution), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return ((pixels - _MEAN) / _STD).transpose(2, 0, 1).astype(np.float32)


def check_inputs(resolution: int, seed: int | None = None) -> tuple[np.ndarray, str]:
    """(inputs N×3×r×r float32, a description): the bundled photos, centre-cropped and resized
    to ``resolution`` and normalised, then ``RANDOM_INPUTS`` random images, drawn fresh for each
    check unless ``seed`` is given: a runtime (or a poisoned artefact) cannot know them ahead."""
    import numpy as np
    from PIL import Image

    images = []
    for path in _photo_paths():
        with Image.open(path) as opened:
            images.append(centre_crop(opened.convert("RGB"), resolution))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((RANDOM_INPUTS, 3, resolution, resolution), dtype=np.float32)
    stacked = np.concatenate([np.stack(images).astype(np.float32), noise]) if images else noise
    drawn = "seeded" if seed is not None else "fresh"
    described = (
        f"{len(images)} bundled photos + {RANDOM_INPUTS} {drawn} random images at {resolution} px"
    )
    return np.ascontiguousarray(stacked), described


def run_batched(
    predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, batch_size: int
) -> np.ndarray:
    """``predict`` over ``inputs`` in batches of exactly ``batch_size`` (an artefact built for
    one batch size takes only that): the last batch is filled with repeats, then trimmed."""
    import numpy as np

    outputs = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        missing = batch_size - len(chunk)
        if missing:
            filler = np.resize(chunk, (missing, *chunk.shape[1:]))
            chunk = np.concatenate([chunk, filler])
        outputs.append(np.asarray(predict(np.ascontiguousarray(chunk)), dtype=np.float32))
    return np.concatenate(outputs)[: len(inputs)]


def _mean_correlation(reference: np.ndarray, outputs: np.ndarray) -> float:
    """Mean over inputs of the Pearson correlation of their logits (0 for a constant row)."""
    import numpy as np

    a = reference - reference.mean(axis=1, keepdims=True)
    b = outputs - outputs.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    rows = np.where(norms > 0, (a * b).sum(axis=1) / np.where(norms > 0, norms, 1.0), 0.0)
    return float(rows.mean()) if rows.size else 0.0


def compare(reference: np.ndarray, outputs: np.ndarray, precision: str, inputs: str) -> Equivalence:
    """``outputs`` of a runtime against eager fp32's ``reference`` (both N×classes).

    >>> import numpy as np
    >>> ref = np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 1.0]])
    >>> compare(ref, ref + 1e-6, "fp32", "2 inputs").verified
    True
    >>> wrong = compare(ref, ref[::-1], "fp32", "2 inputs")
    >>> wrong.verified, wrong.top1_pct
    (False, 0.0)
    >>> compare(ref, ref * 1.01, "bf16", "2 inputs").verified  # 1 % off, same decisions
    True
    >>> compare(ref, ref + [[0.2, 0.0, 0.0], [0.0, 0.0, 0.4]], "int8", "2 inputs").verified
    True
    >>> compare(ref, ref[:, ::-1], "int8", "2 inputs").verified  # another function
    False
    """
    import numpy as np

    if outputs.shape != reference.shape:
        return Equivalence(
            max_abs=float("inf"),
            max_rel=float("inf"),
            top1_pct=0.0,
            inputs=inputs,
            verified=False,
            reason=f"output shape {outputs.shape} differs from eager's {reference.shape}",
        )
    difference = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    max_abs = float(difference.max()) if difference.size else 0.0
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    if not np.isfinite(outputs).all():
        max_abs = max_rel = float("inf")
    same = outputs.argmax(axis=1) == reference.argmax(axis=1)
    agree = float(same.mean() * 100.0)
    if precision == "fp32":
        verified = max_rel <= FP32_MAX_REL
        rule = f"fp32: max relative difference {max_rel:.3g} (accepted ≤ {FP32_MAX_REL:g})"
    else:
        top2 = np.sort(reference, axis=1)[:, -2:]
        decisive = (top2[:, 1] - top2[:, 0]) >= DECISIVE_MARGIN * max(scale, 1e-30)
        agree_decisive = float(same[decisive].mean() * 100.0) if decisive.any() else 100.0
        finite = bool(np.isfinite(outputs).all())
        if precision in QUANTIZED:
            # int8 moves logits by design, and on random weights (margins of noise) even the
            # decisions: its check is that it computes the same function, the logits of each
            # input correlated with eager fp32's; the agreement is recorded and shown.
            correlation = _mean_correlation(reference, outputs) if finite else float("nan")
            verified = finite and correlation >= INT8_MIN_CORRELATION
            rule = (
                f"{precision}: logits correlate with eager fp32's at r = {correlation:.3f} on "
                f"average (accepted ≥ {INT8_MIN_CORRELATION:g}); top-1 agreement {agree:.1f} % "
                f"({agree_decisive:.1f} % on the {int(decisive.sum())} decisive of {len(same)} "
                f"inputs), max relative difference {max_rel:.3g}: recorded, not criteria"
            )
            return Equivalence(max_abs, max_rel, agree, inputs, bool(verified), rule)
        # bf16/fp16: the same function (its logits correlated with eager's at r ≥ 0.95); the
        # decisions are recorded: on random weights even a correct bf16 flips near-ties.
        correlation = _mean_correlation(reference, outputs) if finite else float("nan")
        verified = finite and correlation >= REDUCED_MIN_CORRELATION
        rule = (
            f"{precision}: logits correlated with eager fp32's at r = {correlation:.3f} "
            f"(accepted ≥ {REDUCED_MIN_CORRELATION:g}); top-1 agreement {agree_decisive:.1f} % "
            f"on the {int(decisive.sum())} decisive of {len(same)} inputs, max relative "
            f"difference {max_rel:.3g}: recorded, not criteria"
        )
    return Equivalence(
        max_abs=max_abs,
        max_rel=max_rel,
        top1_pct=agree,
        inputs=inputs,
        verified=bool(verified),
        reason=rule,
    )
