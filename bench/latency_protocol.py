"""Our latency protocol against ``torch.utils.benchmark.Timer``, side by side in one run.

For EfficientNet-B0 and B3 on CPU (batch 1, fp32, channels_last, random weights) it prints:

* the median per-forward latency of our protocol (``zoo.measure.time_forward``: warm-up, then
  timed iterations under ``torch.inference_mode()``), measured in this process;
* the same through ``zoo.measure.measure`` (the forked worker process the CLI and dashboard use);
* the median of ``torch.utils.benchmark.Timer.blocked_autorange`` with ``num_threads`` set
  explicitly to ``torch.get_num_threads()`` (Timer's own default is 1 thread);
* their ratio: PASS when within 10 %;

and the channels_last speed-up over NCHW for B0 (PASS above 1.2×).

The three are interleaved in many short rounds (ours, worker, Timer, ours, …, about 0.3 s each),
so background load, which comes and goes over seconds, hits all sides alike; the verdict uses
the median over rounds of each side's per-round median. The best (fastest) round of each side is
printed too: on a quiet machine the two statistics agree, and when they do not, the machine was
busy and the run says so. Run: ``python -m bench.latency_protocol`` (1–3 minutes on 2 cores);
it reports and exits 0 unless ``--strict`` is given: a benchmark, not a timed unit test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from torch.utils.benchmark import Timer

from zoo.measure.orchestrate import measure
from zoo.measure.timing import time_forward
from zoo.models.build import build_model
from zoo.models.spec import spec_from_variant
from zoo.records.environment import cpu_model
from zoo.records.protocol import Protocol

AGREEMENT = 0.10  # medians must agree within 10 %
CHANNELS_LAST_TARGET = 1.2  # expected speed-up of channels_last over NCHW for B0 on CPU
ROUND_SECONDS = 0.3
# The benchmark itself keeps every thread busy, so the 1-minute load average ends near the thread
# count even on a quiet machine; only a load above that (plus a margin) says someone else ran.
BUSY_MARGIN = 0.75


def prepared(variant: str, channels_last: bool) -> tuple[torch.nn.Module, torch.Tensor]:
    spec = spec_from_variant(variant)
    torch.manual_seed(0)
    model = build_model(spec)
    x = torch.randn(1, 3, spec.resolution, spec.resolution)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def ours_ms(model: torch.nn.Module, x: torch.Tensor, protocol: Protocol) -> float:
    return time_forward(model, x, protocol).latency_ms_median


def timer_ms(model: torch.nn.Module, x: torch.Tensor, threads: int, seconds: float) -> float:
    timer = Timer(
        stmt="with torch.inference_mode():\n    model(x)",
        globals={"model": model, "x": x, "torch": torch},
        num_threads=threads,
        label="forward",
    )
    return timer.blocked_autorange(min_run_time=seconds).median * 1000.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.1f}" for v in values) + "]"


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads for both sides (default: torch's)")  # fmt: skip
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 on any FAIL (default: report only, as `make bench` runs it)",
    )
    args = parser.parse_args(argv)
    threads, rounds = args.threads, args.rounds
    torch.set_num_threads(threads)
    start_load = load_average()
    print(f"CPU: {cpu_model()}; torch {torch.__version__}; {threads} threads, set explicitly on")
    print(f"every side; batch 1, fp32, random weights; {rounds} interleaved rounds of about")
    print(f"{ROUND_SECONDS} s each (ours, worker, Timer); load average at start {start_load:.2f}")
    print()
    failures = 0
    # Per round: one warm-up forward (the model is already warm), then timed forwards for
    # ROUND_SECONDS; the worker builds a fresh model, hence more warm-up.
    quick = Protocol(
        device="cpu", warmup_iters=1, min_iters=3, max_iters=10_000, max_seconds=ROUND_SECONDS,
        threads=threads,
    )  # fmt: skip
    worker_protocol = Protocol(
        device="cpu", warmup_iters=3, min_iters=3, max_iters=10_000, max_seconds=ROUND_SECONDS,
        threads=threads,
    )  # fmt: skip
    print("channels_last: our protocol vs torch.utils.benchmark.Timer")
    print(
        f"{'model':<16}{'ours ms':>9}{'worker ms':>11}{'Timer ms':>10}"
        f"{'ours/Timer':>12}{'worker/Timer':>14}  within 10 %"
    )
    details = []
    for variant in ("b0", "b3"):
        spec = spec_from_variant(variant)
        model, x = prepared(variant, channels_last=True)
        ours_ms(model, x, quick)  # first-call set-up (oneDNN primitives) outside the rounds
        ours, workers, timers = [], [], []
        for _ in range(rounds):
            ours.append(ours_ms(model, x, quick))
            workers.append(measure(spec, worker_protocol).latency_ms_median)
            timers.append(timer_ms(model, x, threads, ROUND_SECONDS))
        o, w, t = (statistics.median(v) for v in (ours, workers, timers))
        ok = abs(o / t - 1) <= AGREEMENT and abs(w / t - 1) <= AGREEMENT
        failures += not ok
        print(
            f"{spec.model:<16}{o:>9.2f}{w:>11.2f}{t:>10.2f}{o / t:>12.3f}{w / t:>14.3f}"
            f"  {verdict(ok)}"
        )
        bo, bw, bt = min(ours), min(workers), min(timers)
        details.append(
            f"  {spec.model} best rounds: ours {bo:.2f}, worker {bw:.2f}, Timer {bt:.2f} ms "
            f"(ratios {bo / bt:.3f}, {bw / bt:.3f})\n"
            f"    rounds: ours {fmt(ours)}\n    worker {fmt(workers)}\n    Timer {fmt(timers)}"
        )
    print("\n".join(details))

    print()
    print("channels_last vs NCHW, EfficientNet-B0, our protocol (interleaved rounds)")
    nhwc_model, nhwc_x = prepared("b0", channels_last=True)
    nchw_model, nchw_x = prepared("b0", channels_last=False)
    ours_ms(nhwc_model, nhwc_x, quick)
    ours_ms(nchw_model, nchw_x, quick)
    nhwc, nchw = [], []
    for _ in range(rounds):
        nchw.append(ours_ms(nchw_model, nchw_x, quick))
        nhwc.append(ours_ms(nhwc_model, nhwc_x, quick))
    speedup = statistics.median(nchw) / statistics.median(nhwc)
    ok = speedup > CHANNELS_LAST_TARGET
    failures += not ok
    print(
        f"NCHW median {statistics.median(nchw):.2f} ms (best {min(nchw):.2f}), rounds {fmt(nchw)}"
    )
    print(
        f"NHWC median {statistics.median(nhwc):.2f} ms (best {min(nhwc):.2f}), rounds {fmt(nhwc)}"
    )
    print(f"channels_last speed-up {speedup:.2f}x (best rounds {min(nchw) / min(nhwc):.2f}x; "
          f"expected > {CHANNELS_LAST_TARGET}x): {verdict(ok)}")  # fmt: skip
    end_load = load_average()
    print(f"load average at end {end_load:.2f}")
    busy_load = torch.get_num_threads() + BUSY_MARGIN
    if max(start_load, end_load) > busy_load:
        print(f"NOTE: the load average exceeded {busy_load:.2f} (this benchmark's {torch.get_num_threads()} "
              "threads + a margin): other processes were running, and the medians carry their "
              "interference")  # fmt: skip
    print(f"{failures} FAIL(s)" if failures else "all PASS")
    return 1 if failures and args.strict else 0


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    print(f"({time.perf_counter() - started:.0f} s)")
    raise SystemExit(status)
