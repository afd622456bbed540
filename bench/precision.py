"""The runtime × precision matrix on this CPU, and the zoo's figure against a bare loop of the
same runtime and artefact, in one run.

Five models at 224 px, batch 1, the protocol's threads, random weights (latency only):
EfficientNet-B0, B3 (at 300 px), MobileNetV3-Large, ResNet-50, EfficientNet-Lite0. For each,
OpenVINO fp32 / bf16 / int8 (NNCF), ONNX Runtime fp32 / int8 (QDQ) and eager fp32 / bf16, each
measured by the zoo (rounds, probes, isolation) and timed by a bare loop of the zoo's own runner
over the same artefact (``time.perf_counter`` around ``call()``, median), back to back: the zoo
first in passes 1, 3, …, the bare loop first in the others (an even number of passes balances
both orders); the cells' order reversed every pass. The zoo's figure compared is as timed (the
stored one is also scaled to the machine's reference speed level, which a bare loop is not).
Every comparison is paired: per pass, the zoo over the bare loop timed next to it, and a
precision's speed-up over the fp32 cell timed next to it; the verdicts take the median over the
passes (the fastest-over-passes ratio is printed too, as min/min). Targets: zoo/bare within 10 %
in every cell; OpenVINO bf16 ≥ 1.4× its fp32 for B0; int8 ≥ 3× for ResNet-50.

Run: ``python -m bench.precision [--passes 6] [--calibration DIR] [--models M ...]
[--runtimes R ...] [--json FILE]`` (the default calibration images: the bundled photos and
scikit-image's; 4 to 5 minutes a pass on 2 cores). The bare loop runs in a fresh process, as the
zoo's timing does. Why paired medians: docs/benchmarks.md, 'Precision on this CPU'.
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
    parser.add_argument("--passes", type=int, default=6)
    parser.add_argument("--calibration", default=None, metavar="DIR")
    parser.add_argument("--json", default=None, help="write every figure to this file")
    names = [m for m, _ in MODELS]
    parser.add_argument("--models", nargs="+", choices=names, default=names, metavar="MODEL")
    parser.add_argument("--runtimes", nargs="+", default=None, metavar="RUNTIME")
    args = parser.parse_args(argv)
    if args.passes < 1:
        parser.error(f"--passes must be a whole number ≥ 1, got {args.passes}")
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
    runs: dict[tuple[str, str, str], list[dict]] = {}
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
                    bare = _bare_ms(spec, protocol) if n % 2 else None  # odd passes: bare first
                    m = measure(spec, protocol, store=store, remeasure=True)
                    if bare is None:
                        bare = _bare_ms(spec, protocol)
                    # As timed (before the zoo scales it to the machine's reference speed level):
                    # the bare loop is not scaled.
                    run = {
                        "zoo_ms": m.latency_ms_measured or m.latency_ms_median,
                        "stored_ms": m.latency_ms_median,
                        "bare_ms": bare,
                        "quality": m.quality,
                        "runtime_precision": m.runtime_precision,
                        "top1_agreement_pct": m.equiv_top1_pct,
                    }
                    runs.setdefault((model, runtime, precision), []).append(run)
                    print(f"pass {n + 1} {model:>22} {runtime:>11} {precision}: zoo "
                          f"{run['zoo_ms']:7.2f} ms as timed, {run['stored_ms']:7.2f} stored "
                          f"({m.runtime_precision}, {m.quality}), bare {bare:7.2f} ms "
                          f"({'first' if n % 2 else 'second'})", flush=True)  # fmt: skip
    print(f"\n{len(models)} models × {len(cells_run)} cells × {args.passes} passes, "
          f"{time.monotonic() - started:.0f} s; calibration {calibration} ({digest})\n")  # fmt: skip
    rows, ok = [], True
    print(f"{'model':>22} {'runtime':>11} {'prec':>4} {'zoo ms':>8} {'bare ms':>8} {'zoo/bare':>8} "
          f"{'per pass':>{5 * args.passes}} {'min/min':>7} {'vs fp32':>8} {'top-1':>6} "
          f"{'clean':>5}")  # fmt: skip
    for model, _ in models:
        for runtime, precision in cells_run:
            cell = runs[(model, runtime, precision)]
            ratios = [r["zoo_ms"] / r["bare_ms"] for r in cell]
            ratio = statistics.median(ratios)
            ok &= abs(ratio - 1.0) <= 0.10
            zoo = statistics.median(r["zoo_ms"] for r in cell)
            bare = statistics.median(r["bare_ms"] for r in cell)
            fastest = min(r["zoo_ms"] for r in cell) / min(r["bare_ms"] for r in cell)
            speedup = _speedup(runs, model, runtime, precision)
            agree = cell[-1]["top1_agreement_pct"]
            clean = sum(r["quality"] == "clean" for r in cell)
            print(f"{model:>22} {runtime:>11} {precision:>4} {zoo:8.2f} {bare:8.2f} {ratio:8.2f} "
                  f"{' '.join(f'{x:4.2f}' for x in ratios):>{5 * args.passes}} {fastest:7.2f} "
                  f"{'' if speedup is None else f'{speedup:7.2f}×':>8} "
                  f"{'' if agree is None else f'{agree:.0f} %':>6} {clean:>3}/{len(cell)}")  # fmt: skip
            rows.append({"model": model, "runtime": runtime, "precision": precision,
                         "zoo_ms_median": zoo, "bare_ms_median": bare, "zoo_over_bare": ratio,
                         "zoo_over_bare_per_pass": ratios, "fastest_over_fastest": fastest,
                         "speedup_over_fp32": speedup, "top1_agreement_pct": agree,
                         "passes": cell})  # fmt: skip
    bf16 = _speedup(runs, "efficientnet_b0", "openvino", "bf16")
    int8 = _speedup(runs, "resnet50", "openvino", "int8")
    print(f"\nzoo within 10 % of the bare loop in every cell (median of the paired passes): "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    print(f"OpenVINO bf16 over fp32, B0: {_verdict(bf16, 1.4)}")
    print(f"OpenVINO int8 over fp32, ResNet-50: {_verdict(int8, 3.0)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok and (bf16 or 0) >= 1.4 and (int8 or 0) >= 3.0 else 1


def _speedup(runs: dict, model: str, runtime: str, precision: str) -> float | None:
    """The median over the passes of the runtime's fp32 over ``precision``, each pass's two zoo
    figures timed next to each other (None: fp32 itself, or not in this run)."""
    fp32, other = runs.get((model, runtime, "fp32")), runs.get((model, runtime, precision))
    if precision == "fp32" or not fp32 or not other:
        return None
    return statistics.median(a["zoo_ms"] / b["zoo_ms"] for a, b in zip(fp32, other, strict=True))


def _verdict(speedup: float | None, target: float) -> str:
    if speedup is None:
        return f"not in this run (target ≥ {target})"
    return f"{speedup:.2f}× (target ≥ {target}): {'PASS' if speedup >= target else 'FAIL'}"


if __name__ == "__main__":
    raise SystemExit(main())
