"""Where the time goes, and whether the profile adds up: B0, B3 and ResNet-50 profiled on each
CPU runtime with its own profiler (``zoo.profile.run.profile``, as ``python -m zoo profile``),
the stages' sum set against the whole-model latency timed just before and after on the same
runner.

Printed per run: the whole-model and summed times, the gap, each stage's share and % of the
roofline, each operator kind's share and achieved GFLOP/s, and the machine's ceilings. Target:
for B0 on every CPU runtime the stages sum to within 15 % of the whole model.

Run: ``python -m bench.profile [--models efficientnet_b0,...] [--runtimes eager,...] [--calls 30]
[--json FILE]`` (scratch cache and data folders; about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

MODELS = ("efficientnet_b0", "efficientnet_b3", "resnet50")
RUNTIMES = ("eager", "onnxruntime", "openvino")
TARGET_PCT = 15.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--json", default=None, metavar="FILE")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="effscale-bench-profile-")
    os.environ.setdefault("EFFSCALE_CACHE", os.path.join(scratch, "cache"))
    os.environ["XDG_DATA_HOME"] = os.path.join(scratch, "data")
    from zoo.models.spec import spec_from_timm, spec_from_variant
    from zoo.profile.run import profile
    from zoo.records.protocol import Protocol

    documents, verdicts = [], []
    for name in args.models.split(","):
        spec = spec_from_variant(name[-2:]) if name.startswith("efficientnet_b") else None
        spec = spec or spec_from_timm(name)
        for runtime in args.runtimes.split(","):
            doc = profile(spec, Protocol(device="cpu", runtime=runtime), args.calls)
            documents.append(doc)
            c = doc["ceilings"]
            print(
                f"\n{name} on {runtime} ({doc['runtime_precision']}, {doc['profiler']}): whole "
                f"{doc['whole_ms']:.2f} ms (runs {', '.join(f'{v:.2f}' for v in doc['whole_ms_runs'])}), "
                f"stages sum {doc['profiled_ms']:.2f} ms, gap {doc['gap_pct']:+.1f} %; ceilings "
                f"{c['peak_gflops']:.0f} GFLOP/s, {c['bandwidth_gbs']:.1f} GB/s\n  parts: "
                f"{doc['parts_timed']}; the profiler's own layer times sum to "
                f"{doc['profiler_ms']:.2f} ms ({100 * (doc['profiler_ms'] / doc['whole_ms'] - 1):+.1f} %)"
            )
            for p in doc["parts"]:
                roof = f"{p['roofline_pct']:5.0f} %" if p["roofline_pct"] is not None else "    —  "
                print(
                    f"  {p['name']:>8} {p['ms']:7.2f} ms {p['share_pct']:5.1f} %  roofline {roof}"
                )
            kinds = ", ".join(
                f"{k['name']} {k['share_pct']:.0f} % ({k['gflops']:.0f} GFLOP/s)"
                if k["gflops"]
                else f"{k['name']} {k['share_pct']:.0f} %"
                for k in doc["kinds"]
            )
            print(f"  by kind: {kinds}")
            if name == "efficientnet_b0":
                ok = abs(doc["gap_pct"]) <= TARGET_PCT
                verdicts.append(ok)
                print(
                    f"  B0 stages within {TARGET_PCT:.0f} % of the whole: {'PASS' if ok else 'FAIL'}"
                )
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(documents, stream, indent=1)
    print(f"\nB0 on every runtime within {TARGET_PCT:.0f} %: {'PASS' if all(verdicts) else 'FAIL'}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
