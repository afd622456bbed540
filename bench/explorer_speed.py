"""Analytic explorer vs building the timm model and counting it with ptflops, side by side.

Targets (issue: foundation): one configuration in under 1 ms analytically, and at least 1000x
faster than the build-and-count path for B7. Run: ``python -m bench.explorer_speed``.
"""

from __future__ import annotations

import statistics
import time

from explorer import from_multipliers, get_variant


def analytic_seconds(width: float, depth: float, resolution: int, repeats: int = 200) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        from_multipliers(width, depth, resolution)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_and_count_seconds(width: float, depth: float, resolution: int, repeats: int = 2):
    import ptflops  # noqa: F401 - imported before the clock starts, as the counter's own cost
    from timm.models.efficientnet import _gen_efficientnet

    from zoo.models.complexity import ptflops_macs

    times, macs = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = _gen_efficientnet(
            "efficientnet_b0", channel_multiplier=width, depth_multiplier=depth
        ).eval()
        macs = ptflops_macs(model, resolution)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), macs


def main() -> int:
    import torch

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU build + ptflops aten")
    print(f"{'variant':8} {'analytic ms':>12} {'build+count ms':>15} {'speed-up':>10}  MACs equal")
    ok = True
    for name in ("b0", "b7"):
        v = get_variant(name)
        args = (v.width_multiplier, v.depth_multiplier, v.resolution)
        analytic = analytic_seconds(*args)
        built, macs = build_and_count_seconds(*args)
        ratio = built / analytic
        same = macs == from_multipliers(*args).macs
        print(f"{name:8} {analytic * 1e3:12.3f} {built * 1e3:15.1f} {ratio:9.0f}x  {same}")
        ok &= analytic < 1e-3 and same
        if name == "b7":
            ok &= ratio >= 1000
    print("targets (<1 ms per configuration, >=1000x for b7):", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
