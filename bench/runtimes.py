"""Inference runtimes on this CPU: the zoo's figure next to a bare loop, speed-ups over eager.

For each model (B0, B3, ResNet-50, MobileNetV3-Large at their native sizes; batch 1, fp32, the
machine's threads) and each CPU runtime (eager channels_last, ONNX Runtime, OpenVINO,
torch.compile), in one run:

* the zoo's median (``zoo.measure.measure``: isolated processes, the stated protocol,
  equivalence checked first) and a bare loop calling the runtime directly in a fresh process
  (same seeded weights, same ONNX file, same settings, ``time.perf_counter`` around each call),
  interleaved over ``ROUNDS`` rounds (alternating which goes first); the zoo's figure must be within 10 % of the bare one;
* the speed-up over eager, and the equivalence figures the zoo stored;
* targets: OpenVINO ≥ 2.5× eager and ONNX Runtime ≥ 2× eager for B0;
* the physical limit: the fastest B0 in GFLOP/s (2 × MACs per second) against this CPU's fp32
  peak (cores × fp32 FMA lanes per cycle × 2 × clock, derived below from /proc/cpuinfo);
* the artefact cache: the first ONNX Runtime measurement of B0 with an empty cache (export +
  session) against the second (cached).

Run: ``python -m bench.runtimes`` (about 15 minutes on 2 cores; ``--quick`` for B0 only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from zoo.measure.orchestrate import measure
from zoo.models.spec import spec_from_timm, spec_from_variant
from zoo.records.environment import default_threads
from zoo.records.protocol import Protocol

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODELS = (("b0", None), ("b3", None), ("resnet50", 224), ("mobilenetv3_large_100", 224))
RUNTIMES = ("eager", "onnxruntime", "openvino", "compile")
ROUNDS = 5
AGREEMENT = 0.10
TARGETS = {"openvino": 2.5, "onnxruntime": 2.0}
SECONDS = 2.0

# The bare loops: what a user would write, with the settings the zoo states for each runtime.
BARE = textwrap.dedent(
    """
    import json, os, sys, time, statistics
    import numpy as np, torch
    from zoo.models.build import build_model
    from zoo.models.spec import spec_from_timm, spec_from_variant
    runtime, model_name, resolution, threads, onnx_path, seconds = {args!r}
    spec = spec_from_variant(model_name) if resolution is None else spec_from_timm(model_name, resolution)
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, spec.resolution, spec.resolution, generator=torch.Generator().manual_seed(1))
    if runtime == "onnxruntime":
        import onnxruntime as ort
        o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
        s = ort.InferenceSession(onnx_path, o, providers=["CPUExecutionProvider"])
        xn = x.numpy(); call = lambda: s.run(None, {{"input": xn}})
    elif runtime == "openvino":
        import openvino as ov
        c = ov.Core().compile_model(onnx_path, "CPU", {{"INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}})
        r = c.create_infer_request(); xn = x.numpy(); call = lambda: r.infer({{0: xn}})
    else:
        torch.manual_seed(0)
        m = build_model(spec).to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        if runtime == "compile":
            m = torch.compile(m)
        def call():
            with torch.inference_mode():
                m(x)
    for _ in range(3):
        call()
    samples, total = [], 0.0
    while len(samples) < 50 and (len(samples) < 5 or total < seconds):
        t0 = time.perf_counter(); call(); dt = time.perf_counter() - t0
        samples.append(dt); total += dt
    print(json.dumps(statistics.median(samples) * 1000))
    """
)


def spec_of(name: str, resolution: int | None):
    return spec_from_variant(name) if resolution is None else spec_from_timm(name, resolution)


def protocol(runtime: str) -> Protocol:
    return Protocol(device="cpu", runtime=runtime, threads=default_threads(), max_seconds=SECONDS)


def onnx_path_for(model: str) -> str:
    from zoo.runtimes.artifacts import list_artifacts

    for entry in list_artifacts():
        if entry.kind == "onnx" and f" of {model} @" in entry.description:
            return str(entry.path)
    raise RuntimeError(f"no cached ONNX export of {model}")


def bare(runtime: str, name: str, resolution: int | None, spec_model: str) -> float:
    path = onnx_path_for(spec_model) if runtime in ("onnxruntime", "openvino") else ""
    code = BARE.format(args=(runtime, name, resolution, default_threads(), path, SECONDS))
    # The bare loop's compiled kernels go to a cache of this run's, like the zoo's (a stale or
    # damaged default cache, /tmp/torchinductor_<user>, must not decide either figure).
    env = dict(
        os.environ, TORCHINDUCTOR_CACHE_DIR=os.path.join(os.environ["EFFSCALE_CACHE"], "bare")
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        cwd=ROOT,  # ``python -c`` imports from its working directory: this checkout
    )
    if out.returncode != 0:
        raise RuntimeError(f"the bare {runtime} loop for {name} failed: {out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def cpu_peak_gflops() -> tuple[float, str]:
    """This CPU's fp32 peak: cores × FMA lanes per cycle × 2 FLOP × clock, and how it was
    derived. Lanes: AVX-512 on Intel server cores has two 512-bit FMA units (32 fp32 lanes per
    cycle); AMD Zen 4 executes AVX-512 on two 256-bit FMA pipes (16 lanes); AVX2: 2 × 8."""
    info = Path("/proc/cpuinfo").read_text()
    flags = next(line for line in info.splitlines() if line.startswith("flags")).split()
    vendor = next(line for line in info.splitlines() if line.startswith("vendor_id")).split()[-1]
    mhz = max(float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz"))
    cores = os.cpu_count() or 1
    if "avx512f" in flags and vendor == "GenuineIntel":
        lanes, why = 32, "Intel AVX-512: 2 × 512-bit FMA units = 32 fp32 FMAs per cycle"
    elif "avx512f" in flags or "avx2" in flags:
        lanes, why = (
            16,
            f"{vendor} {'AVX-512 on ' if 'avx512f' in flags else ''}2 × 256-bit FMA pipes = 16 fp32 FMAs per cycle",
        )
    else:
        lanes, why = 8, "SSE/AVX without FMA width information: 8 fp32 lanes assumed"
    peak = cores * lanes * 2 * mhz / 1000
    return peak, f"{cores} cores × {why} × 2 FLOP per FMA × {mhz:.0f} MHz (cpu MHz, /proc/cpuinfo)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="B0 only, one round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds (default {ROUNDS})")
    args = parser.parse_args()
    models = MODELS[:1] if args.quick else MODELS
    rounds = 1 if args.quick else args.rounds
    cache = tempfile.mkdtemp(prefix="effscale-bench-cache-")
    os.environ["EFFSCALE_CACHE"] = cache  # an empty cache: the first export is timed below
    print(f"threads {default_threads()}, artefact cache {cache}")

    # The cache: the first ONNX Runtime measurement of B0 exports, the second reuses.
    b0 = spec_from_variant("b0")
    first_t0 = time.perf_counter()
    first = measure(b0, protocol("onnxruntime"), remeasure=True)
    first_s = time.perf_counter() - first_t0
    second_t0 = time.perf_counter()
    second = measure(b0, protocol("onnxruntime"), remeasure=True)
    second_s = time.perf_counter() - second_t0
    print(
        f"cache: first B0 onnxruntime measurement {first_s:.1f} s (export {first.export_s:.2f} s, "
        f"cached={first.artifact_cached}), second {second_s:.1f} s (export {second.export_s:.2f} s, "
        f"cached={second.artifact_cached}); whole-call ratio {first_s / second_s:.2f}x"
    )

    failures = 0
    results: dict[tuple[str, str], dict] = {}
    for name, resolution in models:
        spec = spec_of(name, resolution)
        for runtime in RUNTIMES:
            zoo_ms, bare_ms, last = [], [], None
            for n in range(rounds):
                # Alternate which side goes first: a drift of the machine's speed within a round
                # then favours neither.
                for side in ("zoo", "bare") if n % 2 == 0 else ("bare", "zoo"):
                    if side == "zoo":
                        last = measure(spec, protocol(runtime), remeasure=True)
                        zoo_ms.append(last.latency_ms_median)
                    else:
                        bare_ms.append(bare(runtime, name, resolution, spec.model))
            results[(spec.model, runtime)] = {
                "zoo": statistics.median(zoo_ms),
                "bare": statistics.median(bare_ms),
                "m": last,
            }
            print(f"  {spec.model} {runtime}: zoo {zoo_ms} bare {bare_ms}", flush=True)

    print()
    print(f"{'model':<24}{'runtime':<13}{'zoo ms':>9}{'bare ms':>9}{'zoo/bare':>9}"
          f"{'vs eager':>9}  equivalence (max rel; top-1)")  # fmt: skip
    for name, resolution in models:
        model = spec_of(name, resolution).model
        eager = results[(model, "eager")]["zoo"]
        for runtime in RUNTIMES:
            r = results[(model, runtime)]
            ratio = r["zoo"] / r["bare"]
            ok = abs(ratio - 1) <= AGREEMENT
            failures += not ok
            m = r["m"]
            equiv = (
                "reference"
                if m.equiv_max_rel is None
                else f"{m.equiv_max_rel:.1e}; {m.equiv_top1_pct:.0f} %"
            )
            print(f"{model:<24}{runtime:<13}{r['zoo']:>9.2f}{r['bare']:>9.2f}{ratio:>9.3f}"
                  f"{eager / r['zoo']:>8.2f}x  {equiv}{'' if ok else '  (outside 10 %)'}")  # fmt: skip
    print()
    b0_eager = results[("efficientnet_b0", "eager")]["zoo"]
    for runtime, target in TARGETS.items():
        speedup = b0_eager / results[("efficientnet_b0", runtime)]["zoo"]
        ok = speedup >= target
        failures += not ok
        print(
            f"B0 {runtime} vs eager: {speedup:.2f}x (target >= {target}x): {'PASS' if ok else 'FAIL'}"
        )
    fastest = min(RUNTIMES, key=lambda r: results[("efficientnet_b0", r)]["zoo"])
    ms = results[("efficientnet_b0", fastest)]["zoo"]
    gflop = 2 * results[("efficientnet_b0", fastest)]["m"].macs / 1e9
    peak, derivation = cpu_peak_gflops()
    print(
        f"B0 is {gflop:.3f} GFLOP (2 x MACs); fastest runtime {fastest}: {ms:.2f} ms = "
        f"{gflop / ms * 1000:.1f} GFLOP/s, {gflop / ms * 1000 / peak:.1%} of this CPU's fp32 peak "
        f"{peak:.0f} GFLOP/s ({derivation})"
    )
    print(f"{failures} FAIL(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
