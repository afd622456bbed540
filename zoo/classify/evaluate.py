"""Evaluate a classifier on a labelled image folder: top-1, top-5, per class, confusions, speed.

Why: published ImageNet accuracies say little about a practitioner's own photos. This is timm's
``validate.py`` for the zoo's classifiers, with each model's own preprocessing, so that the
compare page can plot accuracy on your data against latency on your hardware. Decoding runs on a
thread pool in parallel with the forward pass (``build_forward``); an unreadable image is counted
and listed, and Ctrl-C returns what was finished. Pipeline and numbers: docs/evaluate.md.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoo.classify.classifier import Classifier
from zoo.classify.imagefolder import LabelledFolder, LabelledImage, data_fingerprint
from zoo.classify.images import MAX_FILE_BYTES, ImageError
from zoo.classify.on_runtime import check_classify_runtime
from zoo.errors import ZooError
from zoo.files import UnreadableFile, printable, read_regular
from zoo.records.evaluation import ClassScore, Confusion, Evaluation, FailedImage
from zoo.records.runtimes import REFERENCE_RUNTIME, classify_runtimes

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "RUNTIMES",
    "Forward",
    "LoadedImage",
    "build_forward",
    "check_runtime",
    "default_decode_workers",
    "evaluate",
    "load_image",
]

#: Runtimes ``evaluate`` can use: those classification can (``zoo.classify.on_runtime``).
RUNTIMES: tuple[str, ...] = classify_runtimes()
#: Images per forward pass by default (timm's validate.py uses 256 on a GPU; 32 suits a CPU).
DEFAULT_BATCH_SIZE: int = 32
MAX_BATCH_SIZE: int = 1024
#: How many (class folder, predicted class) confusions a result keeps, most frequent first.
TOP_CONFUSIONS: int = 20
_TOP_K = 5
_BATCHES_IN_FLIGHT = 2

#: A forward pass: a preprocessed (N, C, H, W) batch in, (N, classes) logits out.
Forward = Callable[["torch.Tensor"], "torch.Tensor"]


def check_runtime(runtime: str) -> None:
    """Raise ``ZooError`` unless ``runtime`` is one ``evaluate`` can use (and is installed)."""
    check_classify_runtime(runtime)


def build_forward(classifier: Classifier, runtime: str = REFERENCE_RUNTIME) -> Forward:
    """The forward pass of ``classifier`` in ``runtime``: its own (``Classifier.logits``, on the
    runtime it was loaded for, verified against eager when that is not eager)."""
    check_runtime(runtime)
    if classifier.runtime != runtime:
        raise ZooError(
            f"the classifier was loaded for {classifier.runtime}, not {runtime}: load it with "
            f"get_classifier(..., runtime={runtime!r})"
        )
    return classifier.logits


def default_decode_workers() -> int:
    """Decode threads: one per four usable cores, at least one, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores // 4))


@dataclass(frozen=True)
class LoadedImage:
    """A read and decoded image: its model input (``Classifier.pixels``), its bytes' SHA-256,
    or why it failed (``pixels`` None, ``error`` set; ``digest`` None when it was not read)."""

    pixels: Any
    digest: str | None
    error: str | None


def load_image(classifier: Classifier, image: LabelledImage) -> LoadedImage:
    """Read (bounded, regular files only), hash and decode one image, as a decode thread does.
    Never raises for a bad image: the reason is in ``error``."""
    try:
        raw = read_regular(image.path, MAX_FILE_BYTES)
    except UnreadableFile as exc:
        return LoadedImage(None, None, printable(exc.reason))
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return LoadedImage(classifier.pixels(classifier.decode(raw)), digest, None)
    except ImageError as exc:
        return LoadedImage(None, digest, printable(str(exc)))
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the evaluation
        return LoadedImage(
            None, digest, printable(f"cannot preprocess this image ({type(exc).__name__}: {exc})")
        )


def _check_batch(batch_size: int, workers: int) -> None:
    for name, value, high in (
        ("batch size", batch_size, MAX_BATCH_SIZE),
        ("decode workers", workers, 64),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise ZooError(f"{name} must be a whole number from 1 to {high}, got {value!r}")


class _Tally:
    """Counts as batches land: per class, confusions, failures, content digests."""

    def __init__(self, folder: LabelledFolder) -> None:
        self.images = {c.name: 0 for c in folder.classes}
        self.top1 = dict.fromkeys(self.images, 0)
        self.top5 = dict.fromkeys(self.images, 0)
        self.confusions: Counter[tuple[str, int, int]] = Counter()
        self.failures: list[FailedImage] = []
        self.digests: list[tuple[str, int, str | None]] = []

    def failed(self, image: LabelledImage, error: str) -> None:
        self.failures.append(FailedImage(image.name, error))

    def scored(self, image: LabelledImage, top: list[int]) -> None:
        self.images[image.folder] += 1
        self.top1[image.folder] += top[0] == image.index
        self.top5[image.folder] += image.index in top
        if top[0] != image.index:
            self.confusions[(image.folder, image.index, top[0])] += 1

    @property
    def evaluated(self) -> int:
        return sum(self.images.values())

    @property
    def correct(self) -> int:
        return sum(self.top1.values())


def evaluate(
    classifier: Classifier,
    folder: LabelledFolder,
    *,
    runtime: str = REFERENCE_RUNTIME,
    forward: Forward | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decode_workers: int | None = None,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> Evaluation:
    """Evaluate ``classifier`` on the images ``zoo.classify.imagefolder.scan_folder`` selected.

    ``forward`` replaces the runtime's forward pass (``build_forward(classifier, runtime)`` by
    default; ``runtime`` is then only its name in the record). ``on_batch(images read, images
    evaluated, correct at top-1)`` is called after every batch, e.g. for a progress bar. A
    ``KeyboardInterrupt`` during the loop ends it: the result holds the finished batches and
    has ``complete`` false.
    """
    import time

    import timm
    import torch

    check_runtime(runtime)
    workers = default_decode_workers() if decode_workers is None else decode_workers
    _check_batch(batch_size, workers)
    if classifier.num_classes != 1000:
        raise ZooError(
            f"{classifier.model_name} has {classifier.num_classes} classes; evaluate needs an "
            "ImageNet-1k classifier (1000 classes)"
        )
    forward = forward or build_forward(classifier, runtime)
    agreement = _Agreement() if classifier.precision != "fp32" else None
    if agreement is not None:  # eager fp32 beside it on the same batches
        forward = agreement.wrap(forward, classifier.model)
    images = folder.images
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    tally = _Tally(folder)
    complete = False
    started = time.perf_counter()
    with ThreadPoolExecutor(workers, thread_name_prefix="zoo-decode") as pool:
        in_flight: deque[tuple[tuple[LabelledImage, ...], list[Future[LoadedImage]]]] = deque()
        upcoming = iter(chunks)

        def submit_next() -> None:
            chunk = next(upcoming, None)
            if chunk is not None:
                in_flight.append((chunk, [pool.submit(load_image, classifier, i) for i in chunk]))

        try:
            for _ in range(_BATCHES_IN_FLIGHT):
                submit_next()
            while in_flight:
                chunk, futures = in_flight.popleft()
                loaded = [future.result() for future in futures]
                submit_next()  # decoded while this batch runs forward
                _score(classifier, forward, chunk, loaded, tally, agreement)
                if on_batch is not None:
                    on_batch(tally.evaluated + len(tally.failures), tally.evaluated, tally.correct)
            complete = True
        except KeyboardInterrupt:
            for _, futures in in_flight:
                for future in futures:
                    future.cancel()
    wall_s = time.perf_counter() - started
    evaluated = tally.evaluated
    read = evaluated + len(tally.failures)
    per_class = tuple(
        ClassScore(c.name, c.index, c.label, tally.images[c.name], tally.top1[c.name],
                   tally.top5[c.name])
        for c in folder.classes
    )  # fmt: skip
    labels = classifier.labels
    confusions = tuple(
        Confusion(name, true, predicted, labels[predicted], count)
        for (name, true, predicted), count in sorted(
            tally.confusions.items(), key=lambda item: (-item[1], item[0])
        )[:TOP_CONFUSIONS]
    )
    return Evaluation(
        model=classifier.model_name,
        weights=classifier.weights.description,
        runtime=runtime,
        data_dir=folder.root,
        data_fingerprint=data_fingerprint(tally.digests),
        classes=len(folder.classes),
        images_found=folder.found,
        images_selected=len(images),
        images_evaluated=evaluated,
        images_failed=len(tally.failures),
        limit=folder.limit,
        top1_pct=100.0 * tally.correct / evaluated if evaluated else None,
        top5_pct=100.0 * sum(tally.top5.values()) / evaluated if evaluated else None,
        images_per_s=read / wall_s if read and wall_s > 0 else None,
        wall_s=wall_s,
        batch_size=batch_size,
        decode_workers=workers,
        threads=torch.get_num_threads(),
        input_px=int(classifier.data_config["input_size"][-1]),
        params=sum(p.numel() for p in classifier.model.parameters()),
        complete=complete,
        evaluated_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        torch_version=torch.__version__,
        timm_version=timm.__version__,
        per_class=per_class,
        confusions=confusions,
        failures=tuple(tally.failures),
        notes=folder.notes,
        precision=classifier.precision,
        agreement_pct=agreement.pct if agreement else None,
        agreement_images=agreement.compared if agreement else 0,
        reference_top1_pct=agreement.reference_top1_pct if agreement else None,
        calibration=classifier.calibration.described if classifier.calibration else "",
    )


class _Agreement:
    """A reduced precision beside eager fp32 on the same batches: where their top-1 agree, and
    fp32's own top-1 on the same images (the drop is measured, not borrowed)."""

    def __init__(self) -> None:
        self.agree = self.compared = self.reference_correct = 0
        self.last: list[int] = []  # eager fp32's top-1 for the batch just run

    def wrap(self, reduced: Forward, model: torch.nn.Module) -> Forward:
        import torch

        def forward(batch: torch.Tensor) -> torch.Tensor:
            logits = reduced(batch)
            with torch.inference_mode():
                reference = model(batch).argmax(dim=1)
            self.agree += int((logits.argmax(dim=1) == reference).sum())
            self.compared += int(batch.shape[0])
            self.last = reference.tolist()
            return logits

        return forward

    @property
    def pct(self) -> float | None:
        return 100.0 * self.agree / self.compared if self.compared else None

    @property
    def reference_top1_pct(self) -> float | None:
        return 100.0 * self.reference_correct / self.compared if self.compared else None


def _score(
    classifier: Classifier,
    forward: Forward,
    chunk: tuple[LabelledImage, ...],
    loaded: list[LoadedImage],
    tally: _Tally,
    agreement: _Agreement | None = None,
) -> None:
    """Run one batch forward and count it. Digests are recorded last, so an interrupted batch
    counts as not read at all."""
    import torch

    ready = [(image, item) for image, item in zip(chunk, loaded, strict=True) if item.error is None]
    if ready:
        logits = forward(classifier.batch([item.pixels for _, item in ready]))
        with torch.inference_mode():
            finite = torch.isfinite(logits).all(dim=-1).tolist()
            top = logits.softmax(dim=-1).topk(_TOP_K, dim=-1).indices.tolist()
        for i, ((image, _), ok, row) in enumerate(zip(ready, finite, top, strict=True)):
            if agreement is not None:
                agreement.reference_correct += agreement.last[i] == image.index
            if ok:
                tally.scored(image, row)
            else:
                tally.failed(
                    image,
                    "the model's output for this image is not finite (NaN or infinity)",
                )
    for image, item in zip(chunk, loaded, strict=True):
        if item.error is not None:
            tally.failed(image, item.error)
        tally.digests.append((image.name, image.index, item.digest))
