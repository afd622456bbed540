"""What an evaluation of a model on a labelled image folder found (``Evaluation``): the record that
is printed, stored and charted.

Why a module of its own, apart from ``zoo.classify.evaluate``: the store keeps these records and
the dashboard reads them without torch or the evaluation machinery, as
``zoo.records.measurement.Measurement`` does for latency. The counting rules (top-1, top-5,
failures, images per second, partial runs): docs/evaluate.md, 'What is reported'.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from zoo.errors import ZooError

__all__ = ["ClassScore", "Confusion", "Evaluation", "FailedImage"]


@dataclass(frozen=True)
class ClassScore:
    """Accuracy on one class folder."""

    folder: str
    index: int  # ImageNet-1k class the folder stands for
    label: str
    images: int  # evaluated images of this class
    top1: int  # of them, correct at top-1
    top5: int  # of them, with the true class among the top 5

    @property
    def top1_pct(self) -> float | None:
        return 100.0 * self.top1 / self.images if self.images else None

    @property
    def top5_pct(self) -> float | None:
        return 100.0 * self.top5 / self.images if self.images else None


@dataclass(frozen=True)
class Confusion:
    """Images of one class folder whose top-1 prediction was one other class, and how many."""

    folder: str
    true_index: int
    predicted_index: int
    predicted_label: str
    count: int


@dataclass(frozen=True)
class FailedImage:
    """An image that could not be read or decoded (or gave a non-finite output), and why."""

    image: str
    error: str


@dataclass(frozen=True)
class Evaluation:
    """A model's accuracy on a labelled folder, with how it was obtained (module docstring)."""

    model: str
    weights: str  # where the weights came from (zoo.weights.sources.WeightsSource.description)
    runtime: str  # the forward pass: the reference runtime, or a verified ONNX one
    data_dir: str  # printable absolute path of the folder
    data_fingerprint: str  # zoo.classify.imagefolder.data_fingerprint of the evaluated images
    classes: int  # class folders with images
    images_found: int  # images in the folder
    images_selected: int  # after --limit
    images_evaluated: int
    images_failed: int
    limit: int | None
    top1_pct: float | None  # None when no image could be evaluated
    top5_pct: float | None
    images_per_s: float | None
    wall_s: float
    batch_size: int
    decode_workers: int
    threads: int  # torch intra-op threads of the forward pass
    input_px: int  # the side of the crop the model sees
    params: int
    complete: bool
    evaluated_at: str  # ISO 8601, UTC
    torch_version: str
    timm_version: str
    per_class: tuple[ClassScore, ...]
    confusions: tuple[Confusion, ...]  # most frequent first
    failures: tuple[FailedImage, ...]
    notes: tuple[str, ...]  # what the folder walk skipped, and why
    # The precision of the forward pass; for a reduced one, its top-1 agreement with eager fp32
    # on the evaluated images and what it was calibrated on (int8). Absent before they existed.
    precision: str = "fp32"
    agreement_pct: float | None = None
    agreement_images: int = 0
    reference_top1_pct: float | None = None  # eager fp32's top-1 on the same images
    calibration: str = ""

    @property
    def forward_key(self) -> str:
        """The store's runtime column: the runtime, with ``@precision`` unless fp32 (one row
        per model, weights, runtime, precision and folder)."""
        return self.runtime if self.precision == "fp32" else f"{self.runtime}@{self.precision}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values: nested records as lists of dicts, per-class percentages
        added; every float finite or None (strict JSON)."""
        data = asdict(self)
        data["per_class"] = [
            {**asdict(score), "top1_pct": score.top1_pct, "top5_pct": score.top5_pct}
            for score in self.per_class
        ]
        data["confusions"] = [asdict(c) for c in self.confusions]
        data["failures"] = [asdict(f) for f in self.failures]
        data["notes"] = list(self.notes)
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """The inverse of ``to_dict``; raises ``ZooError`` for a record that is incomplete."""
        try:
            later = {
                "precision",
                "agreement_pct",
                "agreement_images",
                "reference_top1_pct",
                "calibration",
            }
            values = {f.name: data[f.name] for f in fields(cls) if f.name not in later}
            values.update({name: data[name] for name in later if name in data})
            values["per_class"] = tuple(
                ClassScore(**{k: v for k, v in row.items() if not k.endswith("_pct")})
                for row in data["per_class"]
            )
            values["confusions"] = tuple(Confusion(**row) for row in data["confusions"])
            values["failures"] = tuple(FailedImage(**row) for row in data["failures"])
            values["notes"] = tuple(str(n) for n in data["notes"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ZooError(f"not an evaluation record ({type(exc).__name__}: {exc})") from None
        return cls(**values)
