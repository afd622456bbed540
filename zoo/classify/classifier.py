"""Classify images with a pretrained ImageNet model, preprocessed exactly as it was evaluated.

Preprocessing is timm's own for the model at its test size; labels are timm's ImageNet metadata.
Why a ``Classifier`` exists only with weights from ``zoo.weights.sources.load_pretrained``: no
code path classifies with a randomly initialised network. Loaded models are cached and shared
between threads. Weights and preprocessing: docs/weights.md; ``pixels`` and ``batch`` for many
images: docs/evaluate.md, 'Speed: decoding in parallel with inference'.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.classify.fused_crop import FusedResizeCrop
from zoo.classify.images import MAX_PIXELS, ImageError, decode_image, describe_source
from zoo.classify.on_runtime import check_classify_runtime, runtime_forward
from zoo.errors import ZooError
from zoo.files import UnreadableFile, printable
from zoo.records.runtimes import REFERENCE_RUNTIME
from zoo.weights.sources import WeightsSource, check_model_name, file_sha256, load_pretrained

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image as PILImage

    from zoo.runtimes.calibration import CalibrationSource

__all__ = [
    "CACHE_SIZE",
    "Classifier",
    "ImageResult",
    "Prediction",
    "classify",
    "clear_cache",
    "get_classifier",
]

#: How many loaded models stay resident (a Lite model is 20-40 MB; B7 is 260 MB).
CACHE_SIZE: int = 3
#: Images per forward pass when many are classified in one call.
MAX_BATCH: int = 32
# Before a centre crop only the middle of a very long strip matters; trimming the long side to
# this many times the short side keeps the resize small (a 1×50000 strip would otherwise be
# upscaled to 256×12.8M pixels) and leaves the crop the model sees unchanged.
_MAX_ASPECT: int = 4


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes: ImageNet index, human-readable label, softmax probability."""

    index: int
    label: str
    probability: float


@dataclass(frozen=True)
class ImageResult:
    """The classification of one image, or the reason it could not be classified (``error``)."""

    image: str
    model: str
    weights: str
    top: tuple[Prediction, ...]
    error: str | None


@functools.lru_cache(maxsize=4)
def _labels(subset: str, num_classes: int) -> tuple[str, ...]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo(subset)
    if info.num_classes() != num_classes:
        return tuple(f"class {i}" for i in range(num_classes))
    return tuple(info.index_to_description(i) for i in range(num_classes))


class Classifier:
    """A pretrained model with its evaluation transform and labels. Build it with ``load``."""

    def __init__(
        self,
        model_name: str,
        model: torch.nn.Module,
        weights: WeightsSource,
        *,
        _token: object,
        runtime: str = REFERENCE_RUNTIME,
        precision: str = "fp32",
        calibration: CalibrationSource | None = None,
    ) -> None:
        if _token is not _LOAD_TOKEN:
            raise TypeError(
                "use Classifier.load(...) or get_classifier(...): weights must be loaded"
            )
        import timm.data

        self.model_name = model_name
        self.model = model
        self.weights = weights
        self.data_config: dict[str, Any] = dict(
            timm.data.resolve_model_data_config(model, use_test_size=True)
        )
        self.transform = timm.data.create_transform(**self.data_config, is_training=False)
        self.num_classes: int = int(model.num_classes)
        subset = timm.data.infer_imagenet_subset(model) or "imagenet-1k"
        self.labels = _labels(subset, self.num_classes)
        height, width = self.data_config["input_size"][1:]
        # The transform first resizes to size / crop_pct; JPEGs may be decoded down to that.
        self.resize_px: int = math.ceil(max(height, width) / self.data_config["crop_pct"])
        self._fused = FusedResizeCrop.from_transform(self.transform)
        self._normalise = None if self._fused is None else self._fused.normalisation()
        self.runtime = runtime
        self.precision = precision
        self.calibration = calibration
        weights_id = weights.sha256 or weights.description
        # check: the reduced precision's agreement with eager fp32 (None for eager fp32)
        self._forward, self.check = runtime_forward(
            model,
            runtime,
            height,
            weights_id,
            model_name,
            precision=precision,
            calibration=calibration,
            prepare=lambda image: self.preprocess(image).numpy(),
        )
        #: The precision the runtime reports it ran in (OpenVINO int8: "int8+f32").
        self.ran_as: str = getattr(self._forward, "ran_as", precision)

    @classmethod
    def load(
        cls,
        model_name: str,
        weights_path: str | Path | None = None,
        runtime: str = REFERENCE_RUNTIME,
        precision: str = "fp32",
        calibration: CalibrationSource | None = None,
    ) -> Classifier:
        check_classify_runtime(runtime)
        model, source = load_pretrained(model_name, weights_path)
        return cls(
            model_name,
            model,
            source,
            _token=_LOAD_TOKEN,
            runtime=runtime,
            precision=precision,
            calibration=calibration,
        )

    # ---- preprocessing

    def decode(self, data: bytes | Path | str, *, max_pixels: int = MAX_PIXELS) -> PILImage.Image:
        """Decode untrusted bytes or a file to RGB, JPEGs at the reduced size the resize allows."""
        return decode_image(data, max_pixels=max_pixels, target_size=self.resize_px)

    def _trim_aspect(self, image: PILImage.Image) -> PILImage.Image:
        if self.data_config.get("crop_mode", "center") != "center":
            return image
        width, height = image.size
        short = min(width, height)
        if max(width, height) <= _MAX_ASPECT * short:
            return image
        keep = _MAX_ASPECT * short
        if width > height:
            left = (width - keep) // 2
            return image.crop((left, 0, left + keep, height))
        top = (height - keep) // 2
        return image.crop((0, top, width, top + keep))

    def preprocess(self, image: PILImage.Image) -> torch.Tensor:
        """The model's input tensor (C, H, W) for one RGB image: ``self.transform``'s result.

        When the transform is the usual resize-shortest-side + centre crop, both steps run as one
        Pillow resize of just the cropped region (same sample positions and filter support, so
        the same pixels; a test checks it against the timm transform), which saves a third of
        the preprocessing time at batch 1.
        """
        image = self._trim_aspect(image)
        if self._fused is not None:
            return self._fused(image)
        return self.transform(image)

    def pixels(self, image: PILImage.Image) -> np.ndarray | torch.Tensor:
        """The model's input for one image, in the cheapest form to ship between threads.

        Where the transform is resize + centre crop + to-tensor + normalise (every timm eval
        transform the fused path handles), this is the crop as an 8-bit (H, W, 3) array: Pillow
        and numpy only, so a decode thread never starts torch's intra-op thread pool, and
        ``batch`` converts and normalises many crops in one operation. Otherwise it is
        ``preprocess(image)`` itself. ``batch([pixels(x) ...])`` is bit-for-bit
        ``torch.stack([preprocess(x) ...])`` (a test checks it).
        """
        import numpy as np

        image = self._trim_aspect(image)
        if self._fused is not None and self._normalise is not None:
            return np.asarray(self._fused.crop(image), dtype=np.uint8)
        return self.preprocess(image)

    def batch(self, items: Sequence[np.ndarray | torch.Tensor]) -> torch.Tensor:
        """Stack ``pixels`` results into an (N, C, H, W) float batch, normalised as the transform
        does (``ToTensor`` then ``Normalize``: the same operations in the same order)."""
        import numpy as np
        import torch

        if not items:
            raise ZooError("batch needs at least one image")
        if all(isinstance(item, np.ndarray) for item in items) and self._normalise is not None:
            mean, std = self._normalise
            stacked = torch.from_numpy(np.stack(items)).permute(0, 3, 1, 2).contiguous()
            return stacked.to(torch.float32).div(255).sub_(mean).div_(std)
        return torch.stack(
            [item if isinstance(item, torch.Tensor) else self._to_tensor(item) for item in items]
        )

    def _to_tensor(self, array: np.ndarray) -> torch.Tensor:
        from PIL import Image

        return self._fused.finish(Image.fromarray(array, mode="RGB"))  # type: ignore[union-attr]

    def preview(self, image: PILImage.Image) -> PILImage.Image:
        """The crop the model sees, as an 8-bit RGB image (the input tensor, un-normalised)."""
        import torch
        from PIL import Image

        tensor = self.preprocess(image)
        mean = torch.tensor(self.data_config["mean"]).view(-1, 1, 1)
        std = torch.tensor(self.data_config["std"]).view(-1, 1, 1)
        pixels = (tensor * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)
        return Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy(), mode="RGB")

    # ---- inference

    def predict(self, batch: torch.Tensor, top_k: int = 5) -> list[tuple[Prediction, ...]]:
        """Top-k predictions for a preprocessed batch (N, C, H, W)."""
        import torch

        self._check_top_k(top_k)
        with torch.inference_mode():
            probabilities = self.logits(batch).softmax(dim=-1)
            values, indices = probabilities.topk(top_k, dim=-1)
        return [
            tuple(
                Prediction(index=i, label=self.labels[i], probability=p)
                for i, p in zip(row_indices, row_values, strict=True)
            )
            for row_indices, row_values in zip(indices.tolist(), values.tolist(), strict=True)
        ]

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits for a preprocessed batch (N, C, H, W), on this classifier's runtime."""
        import torch

        with torch.inference_mode():
            return self._forward(batch)

    def _check_top_k(self, top_k: int) -> None:
        if (
            isinstance(top_k, bool)
            or not isinstance(top_k, int)
            or not 1 <= top_k <= self.num_classes
        ):
            raise ZooError(f"top_k must be an integer from 1 to {self.num_classes}, got {top_k!r}")

    def classify(self, images: Sequence[bytes | Path | str], top_k: int = 5) -> list[ImageResult]:
        """Classify many images: valid ones in batched forward passes, each failure reported."""
        import torch

        self._check_top_k(top_k)
        names = [describe_source(item) for item in images]
        tops: list[tuple[Prediction, ...]] = [()] * len(images)
        errors: list[str | None] = [None] * len(images)
        ready: list[tuple[int, torch.Tensor]] = []
        for position, item in enumerate(images):
            try:
                ready.append((position, self.preprocess(self.decode(item))))
            except ImageError as exc:
                errors[position] = printable(str(exc))
            except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
                errors[position] = printable(
                    f"cannot preprocess this image ({type(exc).__name__}: {exc})"
                )
        for start in range(0, len(ready), MAX_BATCH):
            chunk = ready[start : start + MAX_BATCH]
            batch = torch.stack([tensor for _, tensor in chunk])
            for (position, _), top in zip(chunk, self.predict(batch, top_k), strict=True):
                if all(math.isfinite(p.probability) for p in top):
                    tops[position] = top
                else:  # finite weights can still overflow: never report a NaN "probability"
                    errors[position] = (
                        "the model's output for this image is not finite (NaN or infinity): "
                        "the weights overflow on it, so there are no probabilities to report"
                    )
        return [
            ImageResult(
                image=name,
                model=self.model_name,
                weights=self.weights.description,
                top=top,
                error=error,
            )
            for name, top, error in zip(names, tops, errors, strict=True)
        ]


_LOAD_TOKEN = object()


# ---- the cache of loaded classifiers

_cache: OrderedDict[tuple[str, ...], Classifier] = OrderedDict()
_cache_lock = threading.Lock()
_load_locks: dict[tuple[str, str, str], threading.Lock] = {}


def _cache_key(
    model_name: str, weights_path: str | Path | None, runtime: str
) -> tuple[str, str, str]:
    if weights_path is None:
        # Resolved by load_pretrained: hub cache, download, package.
        return model_name, "auto", runtime
    try:
        return model_name, file_sha256(weights_path), runtime
    except UnreadableFile as exc:  # missing, a FIFO, a device, a directory: never waited on
        raise ZooError(
            f"weights file {exc.name} cannot be read ({exc.reason}); accepted: a regular "
            ".safetensors or PyTorch state-dict file"
        ) from None


def get_classifier(
    model_name: str,
    weights_path: str | Path | None = None,
    runtime: str = REFERENCE_RUNTIME,
    precision: str = "fp32",
    calibration: CalibrationSource | None = None,
) -> Classifier:
    """A loaded ``Classifier`` from the LRU cache, loading it (once, even across threads) if
    needed, on ``runtime`` (``eager``, or a verified ONNX runtime: ``zoo.classify.on_runtime``)
    in ``precision`` (int8: calibrated on ``calibration``)."""
    check_model_name(model_name)
    check_classify_runtime(runtime)
    key = (
        *_cache_key(model_name, weights_path, runtime),
        precision,
        calibration.digest if calibration else "",
    )
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        load_lock = _load_locks.setdefault(key, threading.Lock())
    with load_lock:  # a second thread asking for the same model waits for the first load
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        try:
            classifier = Classifier.load(model_name, weights_path, runtime, precision, calibration)
        finally:
            with _cache_lock:
                _load_locks.pop(key, None)
        with _cache_lock:
            _cache[key] = classifier
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return classifier


def clear_cache() -> None:
    """Forget every loaded classifier (tests; freeing memory)."""
    with _cache_lock:
        _cache.clear()


def classify(
    images: Sequence[bytes | Path | str],
    model_name: str,
    weights_path: str | Path | None = None,
    top_k: int = 5,
    runtime: str = REFERENCE_RUNTIME,
) -> list[ImageResult]:
    """Classify images (bytes or paths) with ``model_name``; one ``ImageResult`` per image, in order.

    Model, weights and ``top_k`` problems raise ``ZooError`` (``NoWeightsError`` when no real
    weights exist); a bad image only sets that image's ``error``.
    """
    if isinstance(images, bytes | str | Path):
        raise ZooError("images must be a sequence of bytes or paths, e.g. [Path('cat.jpg')]")
    return get_classifier(model_name, weights_path, runtime).classify(images, top_k)
