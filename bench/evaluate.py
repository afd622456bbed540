"""Throughput of ``zoo evaluate`` against the bare forward passes alone, and what decoding costs.

For tf_efficientnet_lite0 on the CPU, batch 32, on 200 JPEGs made from the bundled photos
(random crops, mirror images, widths 256-1024 px, JPEG quality 80-92) in a labelled temporary
folder, in one process, with the model loaded once:

- ``bare forward``: the forward passes alone, on ready tensors of the same batch sizes as the
  evaluation (6 batches of 32 and one of 8), under ``torch.inference_mode``;
- ``zoo evaluate``: ``scan_folder`` + ``zoo.evaluate.evaluate``, what the CLI runs after loading
  the model: the folder walk, reading, hashing and decoding every file on the decode threads
  while the forward passes run, top-5, per-class counts;
- ``decode only``: the same reading, hashing, decoding and batching in one thread, no forward
  pass: what decoding costs, per image and as a share of serial decode + forward.

The three are interleaved round by round, so load changes on the machine hit all alike; the
verdict is the median over rounds of each round's ratio (evaluate against the bare forward of
the same round, timed next to each other), so a round in which another process took a core
does not compare a slow side with a fast one. Target: ``zoo evaluate`` at least 0.7x the bare forward throughput
(decoding must not dominate). ``--loaders`` also times torch's ``DataLoader`` with worker
processes doing the same decoding (for information: the evaluator uses a thread pool, see
zoo/evaluate.py).

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python -m bench.evaluate [--rounds N] [--threads N]
[--workers N] [--loaders] [--strict]``. It prints PASS or FAIL; ``--strict`` makes a FAIL exit 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL = "tf_efficientnet_lite0"
BATCH = 32
IMAGES = 200
TARGET = 0.7
# folder -> bundled photo; 50 images each (the rocket's name is ambiguous: its WordNet id)
CLASSES = {
    "tabby": "cat.jpg",
    "n07920052": "espresso.jpg",
    "tripod": "cameraman.jpg",
    "n03773504": "rocket.jpg",
}


def make_folder(root: Path, images: int) -> Path:
    from harness.corpus import labelled_folder

    per_class = images // len(CLASSES)
    classes = {folder: (photo, per_class) for folder, photo in CLASSES.items()}
    return labelled_folder(root, classes, seed=2026, sides=(256, 1024))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--images", type=int, default=IMAGES, help="JPEGs (default 200)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="decode threads (default: the evaluator's)"
    )
    parser.add_argument("--loaders", action="store_true", help="also time torch DataLoader")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target fails")
    args = parser.parse_args(argv)

    import timm
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from zoo.classify.classifier import get_classifier
    from zoo.classify.evaluate import build_forward, default_decode_workers, evaluate, load_image
    from zoo.classify.imagefolder import scan_folder

    classifier = get_classifier(MODEL)
    forward = build_forward(classifier)
    workers = args.workers or default_decode_workers()
    with tempfile.TemporaryDirectory(prefix="effscale-bench-evaluate-") as tmp:
        root = make_folder(Path(tmp), args.images)
        folder = scan_folder(root)
        n = len(folder.images)
        sizes = [min(BATCH, n - i) for i in range(0, n, BATCH)]
        size = classifier.data_config["input_size"]
        ready = {b: torch.randn(b, *size) for b in set(sizes)}
        total_mb = sum(os.path.getsize(i.path) for i in folder.images) / 1e6

        def bare() -> None:
            for b in sizes:
                forward(ready[b])

        def zoo_evaluate() -> None:
            result = evaluate(
                classifier, scan_folder(root), batch_size=BATCH, decode_workers=workers
            )
            assert result.complete and result.images_evaluated == n, result.failures

        def decode_only() -> None:
            for start in range(0, n, BATCH):
                loaded = [load_image(classifier, i) for i in folder.images[start : start + BATCH]]
                classifier.batch([item.pixels for item in loaded])

        cases = {"bare forward": bare, "zoo evaluate": zoo_evaluate, "decode only": decode_only}
        if args.loaders:
            cases["DataLoader, 1 worker process"] = _data_loader(classifier, folder, forward, 1)
            cases["DataLoader, 2 worker processes"] = _data_loader(classifier, folder, forward, 2)
        bare()  # warm-up: first-call kernel set-up
        decode_only()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, call in cases.items():
                t0 = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t0)

    median = {name: statistics.median(values) for name, values in times.items()}
    ips = {name: n / seconds for name, seconds in median.items()}
    print(
        f"zoo evaluate throughput: {MODEL}, CPU ({os.cpu_count()} cores), batch {BATCH}, "
        f"{n} JPEGs ({total_mb:.1f} MB, 256-1024 px wide), torch {torch.__version__}, timm "
        f"{timm.__version__}, {torch.get_num_threads()} torch threads, {workers} decode "
        f"thread(s), median of {args.rounds} interleaved rounds"
    )
    for name in cases:
        spread = ", ".join(f"{n / s:.1f}" for s in times[name])
        print(f"  {name:<32} {ips[name]:8.1f} images/s   (rounds: {spread})")
    ratios = [
        b / e for b, e in zip(times["bare forward"], times["zoo evaluate"], strict=True)
    ]  # images/s ratio = inverse time ratio, per round
    ratio = statistics.median(ratios)
    decode_ms = 1000.0 * median["decode only"] / n
    forward_ms = 1000.0 * median["bare forward"] / n
    share = decode_ms / (decode_ms + forward_ms)
    print(
        f"decode cost: {decode_ms:.1f} ms per image (read + SHA-256 + decode + crop + batch, one "
        f"thread) against {forward_ms:.1f} ms of forward pass: {100 * share:.1f} % of serial "
        "decode + forward"
    )
    passed = ratio >= TARGET
    print(
        f"zoo evaluate / bare forward = {ratio:.2f}, median of the rounds' ratios "
        f"({', '.join(f'{r:.2f}' for r in ratios)}); target >= {TARGET:.1f}: "
        f"{'PASS' if passed else 'FAIL'}"
    )
    return 1 if args.strict and not passed else 0


def _data_loader(classifier, folder, forward, workers: int):
    """The same decoding in torch DataLoader worker processes (information only)."""
    from torch.utils.data import DataLoader, Dataset

    from zoo.classify.evaluate import load_image

    images = folder.images

    class Images(Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, index: int):
            return load_image(classifier, images[index]).pixels

    def run() -> None:
        loader = DataLoader(
            Images(), batch_size=BATCH, num_workers=workers, collate_fn=classifier.batch
        )
        for batch in loader:
            forward(batch)

    return run


if __name__ == "__main__":
    raise SystemExit(main())
