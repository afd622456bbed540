"""The latency model's acceptance: calibrate on this CPU for eager and OpenVINO (the design, at
most 20 configurations each, through the job queue as ``python -m zoo calibrate`` does), then
measure random configurations that were not in the calibration set (random φ, α, β, γ, and
explicit width, depth and resolution within the calibrated range) and compare.

Printed per runtime: each test point's measured and predicted ms, the share within ±10 % and
±5 %, the MAPE, the same for a MACs-only linear fit on the same calibration points (the baseline
the model must beat), and how long one prediction takes. Targets: ≥ 90 % within ±10 % for both
runtimes; a prediction under 5 ms.

Run: ``python -m bench.latency_model [--configs 20] [--tests 12] [--rounds 4] [--json FILE]``
(everything in a scratch folder: store, cache, saved models; about 30 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNTIMES = ("eager", "openvino")
SEED = 7


def _test_networks(count: int, calibrated: set, max_gmacs: float) -> list:
    """Seeded random configurations inside the design's ranges, none of them calibrated on:
    half from random φ, α, β, γ, half from explicit width, depth and resolution."""
    from explorer import ScalingError, from_multipliers, from_phi
    from zoo.latency.design import DEPTH_RANGE, RESOLUTION_RANGE, WIDTH_RANGE

    rng = random.Random(SEED)
    chosen: list = []
    while len(chosen) < count:
        try:
            if len(chosen) % 2 == 0:
                phi = round(rng.uniform(-1.0, 1.6), 2)
                alpha, beta, gamma = (round(rng.uniform(*r), 3) for r in
                                      ((1.1, 1.35), (1.0, 1.2), (1.05, 1.2)))  # fmt: skip
                net = from_phi(phi, alpha, beta, gamma)
            else:
                net = from_multipliers(
                    round(rng.uniform(*WIDTH_RANGE), 3),
                    round(rng.uniform(*DEPTH_RANGE), 3),
                    rng.randrange(RESOLUTION_RANGE[0], RESOLUTION_RANGE[1] + 1, 4),
                )
        except ScalingError:
            continue
        inside = WIDTH_RANGE[0] <= net.width_multiplier <= WIDTH_RANGE[1] and (
            DEPTH_RANGE[0] <= net.depth_multiplier <= DEPTH_RANGE[1]
            and RESOLUTION_RANGE[0] <= net.resolution <= RESOLUTION_RANGE[1]
        )
        key = (net.width_multiplier, net.depth_multiplier, net.resolution)
        if inside and net.macs <= max_gmacs * 1e9 and key not in calibrated:
            calibrated.add(key)
            chosen.append(net)
    return chosen


def _score(errors: list[float]) -> dict[str, float]:
    n = len(errors)
    return {
        "within_10_pct": 100.0 * sum(abs(e) <= 0.10 for e in errors) / n,
        "within_5_pct": 100.0 * sum(abs(e) <= 0.05 for e in errors) / n,
        "mape_pct": 100.0 * sum(abs(e) for e in errors) / n,
    }


def _macs_only(points: list) -> tuple[float, float]:
    """Ordinary least squares of latency on MACs: (intercept ms, ms per GMAC)."""
    import numpy as np

    x = np.array([[1.0, net.macs / 1e9] for net, _ in points])
    y = np.array([ms for _, ms in points])
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(a), float(b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=20)
    parser.add_argument("--tests", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="effscale-bench-latency-"))
    for name, sub in (("EFFSCALE_CACHE", "cache"), ("EFFSCALE_LOCK", "lock"),
                      ("XDG_DATA_HOME", "data")):  # fmt: skip
        os.environ[name] = str(scratch / sub)
    store_path = str(scratch / "m.sqlite")
    from zoo.latency.calibrate import calibrate, calibration_specs
    from zoo.latency.design import DEFAULT_MAX_GMACS
    from zoo.latency.points import points_for
    from zoo.latency.predict import predict_document
    from zoo.measure.orchestrate import measure
    from zoo.models.spec import network_for, spec_for_network
    from zoo.records.protocol import Protocol
    from zoo.store.measurement_store import MeasurementStore

    report, ok = {}, True
    for runtime in args.runtimes:
        protocol = Protocol(device="cpu", runtime=runtime, rounds=args.rounds)
        started = time.monotonic()
        model = calibrate(
            store_path, protocol, configs=args.configs, budget_s=3600.0,
            say=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
        )  # fmt: skip
        if model is None:
            print(f"{runtime}: no model (too few clean calibration points)")
            ok = False
            continue
        calibrate_s = time.monotonic() - started
        design = [network_for(s) for s in calibration_specs(args.configs)]
        seen = {(n.width_multiplier, n.depth_multiplier, n.resolution) for n in design}
        with MeasurementStore(store_path) as store:
            points, _, _ = points_for(store, protocol)
        intercept, per_gmac = _macs_only(points)
        rows, model_errors, macs_errors = [], [], []
        for net in _test_networks(args.tests, seen, DEFAULT_MAX_GMACS):
            measured = measure(
                spec_for_network(net), protocol
            ).latency_ms_median  # not stored: not fitted on
            predicted = model.predict_ms(net)
            baseline = intercept + per_gmac * net.macs / 1e9
            model_errors.append((predicted - measured) / measured)
            macs_errors.append((baseline - measured) / measured)
            rows.append({"network": net.label, "resolution": net.resolution,
                         "gmacs": net.macs / 1e9, "measured_ms": measured,
                         "predicted_ms": predicted, "macs_only_ms": baseline})  # fmt: skip
            print(f"{runtime:>9} {net.label:>44} @{net.resolution}px {net.macs / 1e9:5.2f} GMACs: "
                  f"measured {measured:7.2f} ms, predicted {predicted:7.2f} "
                  f"({100 * model_errors[-1]:+5.1f} %), MACs-only {baseline:7.2f} "
                  f"({100 * macs_errors[-1]:+5.1f} %)", flush=True)  # fmt: skip
        net = design[0]
        timings = []
        for _ in range(200):
            t = time.perf_counter()
            predict_document(model, net)
            timings.append((time.perf_counter() - t) * 1000.0)
        ours, baseline_score = _score(model_errors), _score(macs_errors)
        report[runtime] = {"model": ours, "macs_only": baseline_score, "tests": rows,
                           "calibration_points": len(points), "calibrate_s": calibrate_s,
                           "loo": model.backtest.__dict__,
                           "predict_ms_median": statistics.median(timings)}  # fmt: skip
        ok &= ours["within_10_pct"] >= 90.0 and statistics.median(timings) < 5.0
    print()
    for runtime, r in report.items():
        m, b = r["model"], r["macs_only"]
        print(f"{runtime}: calibrated on {r['calibration_points']} configurations in "
              f"{r['calibrate_s'] / 60:.1f} min; on {len(r['tests'])} new configurations: model "
              f"{m['within_10_pct']:.0f} % within ±10 %, {m['within_5_pct']:.0f} % within ±5 %, "
              f"MAPE {m['mape_pct']:.1f} % (target ≥ 90 % within ±10 %: "
              f"{'PASS' if m['within_10_pct'] >= 90 else 'FAIL'}); MACs-only linear fit "
              f"{b['within_10_pct']:.0f} % / {b['within_5_pct']:.0f} % / MAPE "
              f"{b['mape_pct']:.1f} %; one prediction {r['predict_ms_median'] * 1000:.0f} µs "
              f"(target < 5 ms)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
