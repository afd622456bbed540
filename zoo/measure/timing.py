"""The timed loop, and one whole measurement inside the current process.

``measure_in_process`` builds the model and the runtime's runner, checks its outputs against
eager fp32, then times it in rounds (``zoo.measure.rounds``); ``time_call`` is one plain run. Why ONNX Runtime and OpenVINO get their export and eager reference
first, in a process of their own (``prepare_onnx``): PyTorch's OpenMP threads keep spinning after
a forward and would steal the cores the runtime is timed on. The protocol: docs/benchmarks.md,
'The latency protocol'.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.files import file_sha256
from zoo.measure.quiet import LoadProbe, verdict
from zoo.measure.rounds import (
    agree_limit,
    probe_ms,
    reference_level,
    remember_probes,
    time_rounds,
)
from zoo.models.build import build_model, settle_batchnorm
from zoo.models.complexity import count_complexity
from zoo.models.spec import ModelSpec
from zoo.records.measurement import LatencyStats, PeakMemoryKind, summarize_latencies
from zoo.records.protocol import Protocol
from zoo.records.runtimes import REFERENCE_RUNTIME, get_runtime
from zoo.runtimes.equivalence import Equivalence, check_inputs, compare, run_batched
from zoo.runtimes.onnx_export import export_onnx
from zoo.runtimes.runner import Runner, RunnerSource, build_runner

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["checked_runner", "measure_in_process", "prepare_onnx", "time_call", "time_forward"]

#: The random weights every measurement uses (the same network for every runtime).
WEIGHTS_SEED = 0
_INPUT_SEED = 1
_SETTLE_SEED = 2


def time_call(
    call: Callable[[], object],
    protocol: Protocol,
    *,
    sync: Callable[[], None] = lambda: None,
    batches_per_call: int = 1,
) -> LatencyStats:
    """Time ``call()`` with ``protocol`` as one run, no probe: ``warmup_iters`` untimed calls,
    then timed calls until ``max_iters``, or ``max_seconds`` of timed work once ``min_iters`` are
    done (``zoo.measure.rounds.time_rounds`` with one round)."""
    single = replace(protocol, rounds=1)
    timed, _ = time_rounds(call, single, sync=sync, batches_per_call=batches_per_call)
    return summarize_latencies(timed.samples, protocol.batch_size)


def time_forward(model: torch.nn.Module, example: torch.Tensor, protocol: Protocol) -> LatencyStats:
    """Time eager ``model(example)`` with ``protocol`` (the caller prepares model and input)."""
    reference = replace(protocol, runtime=REFERENCE_RUNTIME)
    runner = build_runner(REFERENCE_RUNTIME, RunnerSource(example, model=model), reference)
    return time_call(runner.call, protocol, sync=runner.sync)


def _settling_images(resolution: int) -> torch.Tensor:
    """Two bundled photos and one seeded random image: what BatchNorm settles on (both kinds of
    input the equivalence check feeds stay near unit scale; three keep it under a second)."""
    import torch

    images, _ = check_inputs(resolution, seed=_SETTLE_SEED)
    return torch.from_numpy(images[[0, 1, -1]] if len(images) > 3 else images)


def _model_and_example(
    spec: ModelSpec, protocol: Protocol, device: str
) -> tuple[torch.nn.Module, torch.Tensor]:
    import torch

    torch.manual_seed(WEIGHTS_SEED)
    model = build_model(spec, device=device)
    settle_batchnorm(model, _settling_images(spec.resolution).to(device))
    generator = torch.Generator().manual_seed(_INPUT_SEED)
    example = torch.randn(
        protocol.batch_size, 3, spec.resolution, spec.resolution, generator=generator
    )
    return model, example.to(device)


def _eager_reference(model: torch.nn.Module, inputs: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Eager fp32 logits (NCHW, no autocast): what every runtime is compared with."""
    import torch

    device = next(model.parameters()).device

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    return run_batched(predict, inputs, protocol.batch_size)


def _describe(what: str, spec: ModelSpec, protocol: Protocol) -> str:
    return (
        f"{what} of {spec.model} @{spec.resolution}px, batch {protocol.batch_size}, "
        f"{protocol.precision}, random weights"
    )


def _key_parts(spec: ModelSpec) -> dict[str, Any]:
    return {
        "spec": asdict(spec),
        "weights": f"random, torch.manual_seed({WEIGHTS_SEED}), BatchNorm settled",
    }


def prepare_onnx(spec: ModelSpec, protocol: Protocol, rebuild: bool = False) -> dict[str, Any]:
    """Export ``spec`` (random weights, seeded) to ONNX at the protocol's batch (or take the
    cached export, unless ``rebuild``), and compute eager fp32's logits on the check inputs
    (random images drawn fresh). Plain values back, the export's digest among them."""
    import torch

    assert protocol.threads is not None
    torch.set_num_threads(protocol.threads)
    complexity = count_complexity(spec)
    model, example = _model_and_example(spec, protocol, "cpu")
    artifact = export_onnx(
        model,
        example,
        _key_parts(spec),
        description=_describe("ONNX export", spec, protocol),
        rebuild=rebuild,
    )
    inputs, described = check_inputs(spec.resolution)
    return {
        "onnx_path": str(artifact.path),
        "onnx_sha256": artifact.sha256,
        "onnx_size": artifact.size_bytes,
        "export_s": artifact.build_s,
        "artifact_cached": artifact.cached,
        "example": example.numpy(),
        "inputs": inputs,
        "inputs_described": described,
        "reference": _eager_reference(model, inputs, protocol),
        "params": complexity.params,
        "macs": complexity.macs,
        "macs_backend": complexity.backend,
    }


def _verify(
    runner: Runner, inputs: np.ndarray, reference: np.ndarray, described: str, protocol: Protocol
) -> Equivalence:
    outputs = run_batched(runner.predict, inputs, protocol.batch_size)
    return compare(reference, outputs, protocol.precision, described)


def checked_runner(
    spec: ModelSpec, protocol: Protocol, prepared: dict[str, Any] | None
) -> tuple[Runner, Equivalence | None, dict[str, Any], RunnerSource]:
    """The protocol's runtime, ready; its equivalence check (None: eager fp32 is the reference
    itself); the complexity and export figures; what the runner was built from."""
    import torch

    info = get_runtime(protocol.runtime)
    if info.exports_onnx:
        assert prepared is not None, "ONNX runtimes need prepare_onnx first"
        onnx_path = Path(prepared["onnx_path"])
        if file_sha256(onnx_path) != prepared["onnx_sha256"]:
            raise ZooError(
                f"the ONNX export {onnx_path.name} changed after it was checked (another process "
                "rewrote the cache): not measured; accepted: an unchanged export (measure again)"
            )
        source = RunnerSource(
            prepared["example"], onnx_path=onnx_path, onnx_sha256=prepared["onnx_sha256"]
        )
        runner = build_runner(protocol.runtime, source, protocol)
        check = _verify(
            runner,
            prepared["inputs"],
            prepared["reference"],
            prepared["inputs_described"],
            protocol,
        )
        figures = {k: prepared[k] for k in ("params", "macs", "macs_backend", "export_s")}
        figures["artifact_cached"] = prepared["artifact_cached"]
        return runner, check, figures, source
    complexity = count_complexity(spec)  # meta device: no real memory
    figures = {
        "params": complexity.params,
        "macs": complexity.macs,
        "macs_backend": complexity.backend,
        "export_s": None,
        "artifact_cached": None,
    }
    model, example = _model_and_example(spec, protocol, protocol.device)
    check_needed = not (info.reference and protocol.precision == "fp32")
    if check_needed:
        inputs, described = check_inputs(spec.resolution)
        reference = _eager_reference(model, inputs, protocol)
    if protocol.channels_last and not info.keeps_layout:
        model = model.to(memory_format=torch.channels_last)
        example = example.contiguous(memory_format=torch.channels_last)
    source = RunnerSource(
        example,
        model=model,
        key_parts=_key_parts(spec),
        description=_describe(f"{protocol.runtime} build", spec, protocol),
    )
    runner = build_runner(protocol.runtime, source, protocol)
    if "artifact_cached" in runner.info:
        figures["artifact_cached"] = runner.info.pop("artifact_cached")
    check = _verify(runner, inputs, reference, described, protocol) if check_needed else None
    return runner, check, figures, source


def measure_in_process(
    spec: ModelSpec, protocol: Protocol, prepared: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build, prepare the runtime, check it and time it in this process. Returns plain values.

    ``protocol`` must be resolved (a concrete device and thread count); ``prepared`` is
    ``prepare_onnx``'s result for the ONNX runtimes. The peak memory is this process's own: run
    it in a fresh process (``zoo.measure.isolation``) for it to mean anything.
    """
    import resource

    import psutil
    import torch

    assert protocol.threads is not None
    agree_limit()  # a bad EFFSCALE_ROUNDS_AGREE is refused before any work, not after the timing
    torch.set_num_threads(protocol.threads)
    on_cuda = protocol.device.startswith("cuda")
    rss_before = psutil.Process().memory_info().rss
    if on_cuda:
        # As timm's benchmark.py: let cuDNN pick the fastest kernels (during the warm-up).
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(protocol.device)
    runner, check, figures, _ = checked_runner(spec, protocol, prepared)
    result: dict[str, Any] = {
        **figures,
        "runtime_version": runner.info.get("runtime_version", ""),
        "runtime_precision": runner.info.get("runtime_precision", protocol.precision),
        "compile_s": runner.info.get("compile_s"),
        "quantize_s": runner.info.get("quantize_s"),
    }
    if check is not None:
        result.update(check.as_fields())
        if not check.verified:
            # Never timed: a runtime that gives other answers has no latency to report.
            result["verify_reason"] = check.reason
            return result
    else:
        result["equiv_inputs"] = "eager fp32 is the reference itself"
    threads = protocol.threads
    speed = None if on_cuda else (lambda: probe_ms(threads))
    reference = None if on_cuda else reference_level(threads, calibrate=protocol.rounds > 1)
    load = LoadProbe().start()
    timed, probes = time_rounds(
        runner.call,
        protocol,
        sync=runner.sync,
        batches_per_call=runner.batches_per_call,
        probe=speed,
        reference_ms=reference,
    )
    wall_s, own_s, others_s = load.stop()
    if not on_cuda:
        torch.set_num_threads(threads)  # the probe set it too; what the runner was given
        remember_probes(threads, probes)
    stats = replace(
        summarize_latencies(timed.samples, protocol.batch_size),
        latency_ms_median=timed.median_s * 1000,  # the used rounds' medians' median, scaled
    )
    spread = (stats.latency_ms_p90 - stats.latency_ms_median) / max(stats.latency_ms_median, 1e-9)
    quality = verdict(
        wall_s,
        own_s,
        others_s,
        threads,
        spread,
        on_cuda,
        rounds_spread=timed.spread,
        slow_level=None if timed.steady or timed.level is None else timed.level,
    )
    result.update(quality.as_fields())
    result.update(
        rounds_used=len(timed.used),
        rounds_set_aside=timed.set_aside,
        round_spread=timed.spread,
        speed_level=timed.level,
        probe_ms=timed.reference_ms,
    )
    if timed.level is not None:  # the figure is scaled to the reference speed: keep it as timed
        result["latency_ms_measured"] = timed.measured_median_s * 1000
    if on_cuda:
        peak_bytes = torch.cuda.max_memory_allocated(protocol.device)
        kind: PeakMemoryKind = "cuda_max_allocated"
        before_mb = None
    else:
        # ru_maxrss is in KiB on Linux (bytes on macOS).
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_bytes = peak if sys.platform == "darwin" else peak * 1024
        kind = "worker_peak_rss"
        before_mb = rss_before / 2**20
    result.update({k: v for k, v in asdict(stats).items() if k != "total_s"})
    result.update(
        peak_memory_mb=peak_bytes / 2**20,
        peak_memory_kind=kind,
        worker_rss_before_build_mb=before_mb,
    )
    return result
