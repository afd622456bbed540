"""The runtime × precision matrix on this CPU, and the zoo's figure against a bare loop of the
same runtime and artefact, in one run.

Five models at 224 px, batch 1, the protocol's threads, random weights (latency only):
EfficientNet-B0, B3 (at 300 px), MobileNetV3-Large, ResNet-50, EfficientNet-Lite0. For each,
OpenVINO fp32 / bf16 / int8 (NNCF), ONNX Runtime fp32 / int8 (QDQ) and eager fp32 / bf16, each
measured by the zoo (rounds, probes, isolation) and, right after, timed by a bare loop of the
zoo's own runner over the same artefact (``time.perf_counter`` around ``call()``, median);
passes interleaved. The zoo's figure compared is as timed (the stored one is also scaled to the
machine's reference speed level, which a bare loop is not), from its fastest clean pass, against
the bare loop's fastest over the same passes. Printed: per cell the zoo's median, the bare
loop's, their ratio, and the speed-up over the runtime's fp32. Targets: zoo/bare within 10 %; OpenVINO bf16 ≥ 1.4× its
fp32 for B0; OpenVINO int8 ≥ 3× its fp32 for ResNet-50.

Run: ``python -m bench.precision [--passes 2] [--calibration DIR] [--models M ...]
[--runtimes R ...] [--json FILE]`` (the default calibration images: the bundled photos and
scikit-image's; about 10 minutes on 2 cores). The bare loop runs in a fresh process, as the zoo's
timing does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

MODELS = (
    ("efficientnet_b0", 224),
    ("efficientnet_b3", 300),
    ("mobilenetv3_large_100", 224),
    ("resnet50", 224),
    ("tf_efficientnet_lite0", 224),
)
CELLS = (
    ("openvino", "fp32"),
    ("openvino", "bf16"),
    ("openvino", "int8"),
    ("onnxruntime", "fp32"),
    ("onnxruntime", "int8"),
    ("eager", "fp32"),
    ("eager", "bf16"),
)
BARE_CALLS = 30


def _default_calibration(scratch: Path) -> Path:
    """Photos from the checkout and from scikit-image (a PyPI package): 30-odd images."""
    import skimage.data

    folder = scratch / "calibration"
    folder.mkdir()
    sources = [Path(__file__).resolve().parent.parent / "data" / "photos"]
    sources.append(Path(skimage.data.__file__).parent)
    for source in sources:
        for path in sorted(source.iterdir()):
            if path.suffix.lower() in (".jpg", ".png"):
                shutil.copy(path, folder / f"{source.name}-{path.name}")
    return folder


def _bare_in_process(spec, protocol, prepared) -> float:
    """The zoo's runner for ``protocol`` over the cached artefact, timed by a plain loop (run in a
    fresh process, as the zoo's own timing is: torch's spinning OpenMP threads from an earlier
    eager forward in this process would steal the runtime's cores)."""
    import torch

    from zoo.measure.timing import checked_runner

    torch.set_num_threads(protocol.threads)
    runner, _, _, _ = checked_runner(spec, protocol, prepared)
    for _ in range(protocol.warmup_iters):
        runner.call()
    times = []
    for _ in range(BARE_CALLS):
        started = time.perf_counter()
        runner.call()
        runner.sync()
        times.append((time.perf_counter() - started) * 1000.0 / runner.batches_per_call)
    return statistics.median(times)


def _bare_ms(spec, protocol) -> float:
    """``_bare_in_process`` in a process of its own, after the export (also a process of its own)."""
    from bench import precision as this  # importable by name: the fork server runs it
    from zoo.measure.isolation import run_isolated
    from zoo.measure.timing import prepare_onnx
    from zoo.records.runtimes import get_runtime

    what = f"bare loop {spec.model} {protocol.runtime} {protocol.precision}"
    prepared = None
    if get_runtime(protocol.runtime).exports_onnx:
        prepared = run_isolated(prepare_onnx, (spec, protocol), what=what, timeout_s=600)
    return run_isolated(this._bare_in_process, (spec, protocol, prepared), what=what, timeout_s=600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--calibration", default=None, metavar="DIR")
    parser.add_argument("--json", default=None, help="write every figure to this file")
    names = [m for m, _ in MODELS]
    parser.add_argument("--models", nargs="+", choices=names, default=names, metavar="MODEL")
    parser.add_argument("--runtimes", nargs="+", default=None, metavar="RUNTIME")
    args = parser.parse_args(argv)
    models = [(m, px) for m, px in MODELS if m in args.models]
    cells_run = [c for c in CELLS if args.runtimes is None or c[0] in args.runtimes]
    scratch = Path(tempfile.mkdtemp(prefix="effscale-bench-precision-"))
    os.environ.setdefault("EFFSCALE_CACHE", str(scratch / "cache"))
    os.environ.setdefault("EFFSCALE_LOCK", str(scratch / "lock"))
    import torch

    from zoo.measure.orchestrate import measure
    from zoo.models.spec import spec_from_timm
    from zoo.records.environment import default_threads
    from zoo.records.protocol import Protocol
    from zoo.runtimes.calibration import calibration_digest
    from zoo.store.measurement_store import MeasurementStore

    calibration = Path(args.calibration) if args.calibration else _default_calibration(scratch)
    digest = calibration_digest(calibration)
    threads = default_threads()
    torch.set_num_threads(threads)
    base = Protocol(device="cpu", threads=threads, rounds=4, max_iters=40, max_seconds=4.0)
    zoo_ms: dict[tuple[str, str, str], list[tuple[bool, float]]] = {}
    scaled_ms: dict[tuple[str, str, str], list[tuple[bool, float]]] = {}
    bare_ms: dict[tuple[str, str, str], list[float]] = {}
    agreement: dict[tuple[str, str, str], float | None] = {}
    started = time.monotonic()
    with MeasurementStore(scratch / "m.sqlite") as store:
        for n in range(args.passes):
            for model, px in models:
                spec = spec_from_timm(model, resolution=px)
                cells = cells_run if n % 2 == 0 else cells_run[::-1]
                for runtime, precision in cells:
                    extra = {}
                    if precision == "int8":
                        extra = {"calibration": digest, "calibration_dir": str(calibration)}
                    protocol = replace(base, runtime=runtime, precision=precision, **extra)
                    key = (model, runtime, precision)
                    m = measure(spec, protocol, store=store, remeasure=True)
                    # As timed (before the zoo scales it to the machine's reference speed level):
                    # the bare loop is not scaled; a noisy run is kept apart from clean ones.
                    timed = m.latency_ms_measured or m.latency_ms_median
                    zoo_ms.setdefault(key, []).append((m.quality != "clean", timed))
                    noisy = m.quality != "clean"
                    scaled_ms.setdefault(key, []).append((noisy, m.latency_ms_median))
                    agreement[key] = m.equiv_top1_pct
                    bare_ms.setdefault(key, []).append(_bare_ms(spec, protocol))
                    print(f"pass {n + 1} {model:>22} {runtime:>11} {precision}: zoo {timed:7.2f} "
                          f"ms as timed, {m.latency_ms_median:7.2f} stored "
                          f"({m.runtime_precision}, {m.quality}), "
                          f"bare {bare_ms[key][-1]:7.2f} ms", flush=True)  # fmt: skip
    print(f"\n{len(models)} models × {len(cells_run)} cells × {args.passes} passes, "
          f"{time.monotonic() - started:.0f} s; calibration {calibration} ({digest})\n")  # fmt: skip
    rows, ok = [], True
    header = f"{'model':>22} {'runtime':>11} {'prec':>4} {'zoo ms':>8} {'bare ms':>8} "
    print(header + f"{'zoo/bare':>8} {'vs fp32':>8} {'top-1 agree':>11} {'stored ms':>9}")
    for model, _ in models:
        for runtime, precision in cells_run:
            key = (model, runtime, precision)
            zoo, bare = _paired(zoo_ms[key], bare_ms[key])
            stored = _best(scaled_ms[key])
            fp32 = _best(zoo_ms.get((model, runtime, "fp32"), [(False, float("nan"))]))
            ratio, speedup = zoo / bare, fp32 / zoo
            ok &= abs(ratio - 1.0) <= 0.10
            agree = agreement[key]
            print(f"{model:>22} {runtime:>11} {precision:>4} {zoo:8.2f} {bare:8.2f} {ratio:8.2f} "
                  f"{speedup:7.2f}× {'' if agree is None else f'{agree:.0f} %':>11} "
                  f"{stored:9.2f}")  # fmt: skip
            rows.append({"model": model, "runtime": runtime, "precision": precision,
                         "zoo_ms": zoo, "bare_ms": bare, "zoo_over_bare": ratio,
                         "zoo_stored_ms": stored,
                         "speedup_over_fp32": speedup, "top1_agreement_pct": agree})  # fmt: skip
    bf16 = _speedup(zoo_ms, "efficientnet_b0", "bf16")
    int8 = _speedup(zoo_ms, "resnet50", "int8")
    print(f"\nzoo within 10 % of the bare loop everywhere: {'PASS' if ok else 'FAIL'}")
    print(f"OpenVINO bf16 over fp32, B0: {_verdict(bf16, 1.4)}")
    print(f"OpenVINO int8 over fp32, ResNet-50: {_verdict(int8, 3.0)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok and (bf16 or 0) >= 1.4 and (int8 or 0) >= 3.0 else 1


def _speedup(zoo_ms: dict, model: str, precision: str) -> float | None:
    """OpenVINO fp32 over ``precision`` for ``model`` (None: not in this run)."""
    fp32, other = (
        zoo_ms.get((model, "openvino", "fp32")),
        zoo_ms.get((model, "openvino", precision)),
    )
    return _best(fp32) / _best(other) if fp32 and other else None


def _paired(zoo: list[tuple[bool, float]], bare: list[float]) -> tuple[float, float]:
    """The zoo's fastest clean pass and the bare loop's fastest over the same passes (every pass
    when none was clean): both sides get the same number of draws."""
    passes = [i for i, (noisy, _) in enumerate(zoo) if not noisy] or list(range(len(zoo)))
    return min(zoo[i][1] for i in passes), min(bare[i] for i in passes)


def _best(runs: list[tuple[bool, float]]) -> float:
    """The fastest clean pass (the fastest noisy one when no pass was clean)."""
    return min(runs)[1]


def _verdict(speedup: float | None, target: float) -> str:
    if speedup is None:
        return f"not in this run (target ≥ {target})"
    return f"{speedup:.2f}× (target ≥ {target}): {'PASS' if speedup >= target else 'FAIL'}"


if __name__ == "__main__":
    raise SystemExit(main())
