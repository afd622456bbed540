"""Does a measurement repeat? The same configurations measured three times, interleaved, with the
rounds protocol and with the single run of old, side by side, on eager PyTorch and OpenVINO.

Twelve configurations: EfficientNet-B0–B3, four random (φ, α, β, γ), two explicit
(width, depth, resolution), two peers. Each is measured three times per protocol and runtime,
the passes interleaved (every configuration once, then again), each time with ``--remeasure``
semantics. Printed per configuration: max/min of the three figures; per protocol and runtime:
the share of configurations within 1.05 and within 1.10, and whether every configuration over
1.10 had a measurement flagged noisy. Target: at least 90 % within 1.10 with rounds, on both.

Run: ``python -m bench.repeatability [--passes 3] [--runtimes eager openvino] [--json FILE]``
(about 30 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import replace

from zoo.measure.orchestrate import measure
from zoo.models.spec import spec_from_multipliers, spec_from_phi, spec_from_timm, spec_from_variant
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore

TARGET = 0.90


def configurations(seed: int = 7) -> list:
    rng = random.Random(seed)
    specs = [spec_from_variant(v) for v in ("b0", "b1", "b2", "b3")]
    for _ in range(4):
        specs.append(
            spec_from_phi(
                round(rng.uniform(-1.0, 2.5), 2),
                round(rng.uniform(1.05, 1.4), 2),
                round(rng.uniform(1.0, 1.2), 2),
                round(rng.uniform(1.05, 1.2), 2),
            )
        )
    specs.append(spec_from_multipliers(1.2, 1.4, 256))
    specs.append(spec_from_multipliers(0.8, 1.1, 192))
    specs += [spec_from_timm("resnet50", 224), spec_from_timm("mobilenetv3_large_100", 224)]
    return specs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--runtimes", nargs="+", default=["eager", "openvino"])
    parser.add_argument("--json", default=None, help="write every figure to this file")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="effscale-bench-repeat-")
    os.environ.setdefault("EFFSCALE_CACHE", os.path.join(scratch, "cache"))
    os.environ.setdefault("EFFSCALE_LOCK", os.path.join(scratch, "lock"))
    specs = configurations()
    protocols = {
        "rounds": Protocol(device="cpu"),
        "single run": Protocol(device="cpu", rounds=1),
    }
    figures: dict[tuple[str, str, str], list[tuple[float, str]]] = {}
    started = time.monotonic()
    seconds: dict[tuple[str, ...], list[float]] = {}
    with MeasurementStore(os.path.join(scratch, "m.sqlite")) as store:
        for n in range(args.passes):
            for spec in specs:
                for runtime in args.runtimes:
                    # Alternate which protocol goes first, pass by pass.
                    order = list(protocols.items())[:: 1 if n % 2 == 0 else -1]
                    for name, protocol in order:
                        t0 = time.monotonic()
                        m = measure(spec, replace(protocol, runtime=runtime), store=store,
                                    remeasure=True)  # fmt: skip
                        took = time.monotonic() - t0
                        seconds.setdefault((name, runtime), []).append(took)
                        seconds.setdefault((spec.label, runtime, name), []).append(took)
                        figures.setdefault((spec.label, runtime, name), []).append(
                            (m.latency_ms_median, m.quality)
                        )
                        print(f"pass {n + 1} {spec.label:>44} {runtime:>9} {name:>10}: "
                              f"{m.latency_ms_median:8.2f} ms {m.quality}", flush=True)  # fmt: skip
    print(
        f"\n{len(specs)} configurations × {args.passes} passes, {time.monotonic() - started:.0f} s"
    )
    report = {}
    for runtime in args.runtimes:
        for name in protocols:
            ratios, unflagged = [], []
            for spec in specs:
                values = figures[(spec.label, runtime, name)]
                ratio = max(v for v, _ in values) / min(v for v, _ in values)
                ratios.append(ratio)
                if ratio > 1.10 and not any(q == "noisy" for _, q in values):
                    unflagged.append(spec.label)
            within5 = sum(r <= 1.05 for r in ratios) / len(ratios)
            within10 = sum(r <= 1.10 for r in ratios) / len(ratios)
            per = statistics.median(seconds[(name, runtime)])
            print(f"{runtime:>9} {name:>10}: max/min " + " ".join(f"{r:.2f}" for r in ratios))
            print(f"{'':>9} {'':>10}  within 1.05: {within5:.0%}, within 1.10: {within10:.0%}; "
                  f"{per:.1f} s per measurement (median); over 1.10 and not flagged: "
                  f"{unflagged or 'none'}")  # fmt: skip
            report[f"{runtime}/{name}"] = {"ratios": ratios, "within_1_05": within5,
                                           "within_1_10": within10, "unflagged": unflagged,
                                           "seconds_per_measurement": per}  # fmt: skip
    print("\nseconds per measurement (median of the passes; the whole call: process, build, "
          "export or cached artefact, check, timing)")  # fmt: skip
    for spec in specs[:4]:
        for runtime in args.runtimes:
            cells = [f"{name} {statistics.median(seconds[(spec.label, runtime, name)]):5.1f} s"
                     for name in protocols]  # fmt: skip
            print(f"{spec.label:>20} {runtime:>9}: " + ", ".join(cells))
            report[f"seconds {spec.label} {runtime}"] = {
                name: statistics.median(seconds[(spec.label, runtime, name)]) for name in protocols
            }
    passed = all(report[f"{r}/rounds"]["within_1_10"] >= TARGET for r in args.runtimes)
    print(f"target: ≥ {TARGET:.0%} within 1.10 with rounds on every runtime: "
          f"{'PASS' if passed else 'FAIL'}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as stream:
            json.dump({"report": report, "figures": {" | ".join(k): v for k, v in figures.items()}},
                      stream, indent=2)  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
