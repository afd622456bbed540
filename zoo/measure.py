"""Measure models' latency, throughput and peak memory with a stated protocol: the orchestration.

The protocol (``zoo.protocol.Protocol``; in words in ``docs/benchmarks.md``):

1. device ``auto`` is CUDA when present, else CPU; the CPU thread count is set explicitly
   (default: the physical cores this process may use) and recorded;
2. precision fp32, or bf16/fp16 *autocast* on CUDA (weights stay fp32); channels_last memory
   format for model and input unless turned off;
3. a fresh model with random weights, input ``randn(batch, 3, r, r)``, all under
   ``torch.inference_mode()``;
4. ``warmup_iters`` untimed forwards, then timed forwards until ``max_iters`` or, once
   ``min_iters`` are done, ``max_seconds`` of timed work; on CUDA every timed step is
   bracketed by ``torch.cuda.synchronize()`` (before t0 and before t1), so each sample is
   the wall time of one complete forward;
5. report the median, p90 (linear interpolation), mean and sample standard deviation of the
   per-batch latency in ms, the number of timed iterations, and throughput in images/s
   (``batch_size × iterations / total timed seconds``).

Each measurement runs in a fresh process (``zoo.isolation``), so the peak memory is that
process's own: on CUDA ``torch.cuda.max_memory_allocated`` (``cuda_max_allocated``: weights +
activations + workspaces the caching allocator handed out); on CPU the process's peak resident
set size (``worker_peak_rss``: ``getrusage(RUSAGE_SELF).ru_maxrss``, which includes the torch
runtime; ``worker_rss_before_build_mb`` is the same process just before the model was built, so
the difference is the model's share). Runs are serialized machine-wide (``zoo.locking``).

Here: ``plan`` validates a request completely (protocol, device, memory) before anything runs;
``run_plan`` measures it, returning stored results where they exist and storing each new one the
moment it lands; ``sweep`` and ``measure`` are the two in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from zoo.build import ModelSpec
from zoo.environment import Environment, environment_for, resolve_protocol
from zoo.isolation import run_isolated
from zoo.locking import measurement_lock
from zoo.memory import check_fits
from zoo.protocol import Measurement, Protocol
from zoo.store import MeasurementStore

__all__ = ["Plan", "measure", "plan", "run_plan", "sweep"]


@dataclass(frozen=True)
class Plan:
    """A validated request: every spec fits in memory under ``protocol`` (resolved) here."""

    specs: tuple[ModelSpec, ...]
    protocol: Protocol
    environment: Environment


def plan(specs: Iterable[ModelSpec], protocol: Protocol = Protocol()) -> Plan:
    """Resolve the protocol and refuse, before allocating anything, a model or batch that will
    not fit (``ZooError`` from the memory guard). Nothing is measured or stored."""
    specs = tuple(specs)
    resolved = resolve_protocol(protocol)
    for spec in specs:
        check_fits(spec, resolved.batch_size, resolved.precision, resolved.device)
    return Plan(specs=specs, protocol=resolved, environment=environment_for(resolved))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _measure_one(
    spec: ModelSpec,
    protocol: Protocol,
    env: Environment,
    store: MeasurementStore | None,
    remeasure: bool,
    on_wait: Callable[[], None] | None,
) -> Measurement:
    with measurement_lock(on_wait):
        # Checked again under the lock: another process may have measured it since we looked.
        if store is not None and not remeasure:
            stored = store.get(spec, protocol, env.key)
            if stored is not None:
                return stored
        measurement = _record(spec, protocol, env, run_isolated(spec, protocol))
        if store is not None:
            # Stored before the lock is released: whoever waited for it finds it stored.
            store.put(measurement)  # its own transaction: a kill after this keeps the row
    return measurement


def _record(
    spec: ModelSpec, protocol: Protocol, env: Environment, result: dict[str, object]
) -> Measurement:
    assert protocol.threads is not None
    return Measurement(
        **result,  # params, MACs, the latency statistics and the peak memory
        model=spec.model,
        resolution=spec.resolution,
        family=spec.family,
        kind=spec.kind,
        batch_size=protocol.batch_size,
        precision=protocol.precision,
        channels_last=protocol.channels_last,
        warmup_iters=protocol.warmup_iters,
        min_iters=protocol.min_iters,
        max_iters=protocol.max_iters,
        max_seconds=float(protocol.max_seconds),
        threads=protocol.threads,
        device=env.device,
        device_name=env.device_name,
        cpu_model=env.cpu_model,
        torch_version=env.torch_version,
        timm_version=env.timm_version,
        environment_key=env.key,
        measured_at=_now(),
    )


def run_plan(
    request: Plan,
    *,
    store: MeasurementStore | None,
    remeasure: bool = False,
    on_result: Callable[[Measurement], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> list[Measurement]:
    """Measure each spec of ``request`` in order, returning stored results instead unless
    ``remeasure``. Each finished row is committed at once; ``should_stop()`` is checked between
    models; ``on_result`` sees each result, stored or new, in order; ``on_wait`` is called if
    another measurement holds the lock."""
    protocol, env = request.protocol, request.environment
    results: list[Measurement] = []
    for spec in request.specs:
        result = None if remeasure or store is None else store.get(spec, protocol, env.key)
        if result is None:
            if should_stop is not None and should_stop():
                break
            result = _measure_one(spec, protocol, env, store, remeasure, on_wait)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def sweep(
    specs: Iterable[ModelSpec],
    protocol: Protocol = Protocol(),
    *,
    store: MeasurementStore | None,
    remeasure: bool = False,
    on_result: Callable[[Measurement], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> list[Measurement]:
    """``plan`` then ``run_plan``: everything is validated before anything runs, so bad input
    stores nothing."""
    return run_plan(
        plan(specs, protocol),
        store=store,
        remeasure=remeasure,
        on_result=on_result,
        should_stop=should_stop,
        on_wait=on_wait,
    )


def measure(
    spec: ModelSpec,
    protocol: Protocol = Protocol(),
    *,
    store: MeasurementStore | None = None,
    remeasure: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> Measurement:
    """Measure one model (or return its stored result, ``from_store=True``, unless
    ``remeasure``). Refuses, before allocating anything, a model or batch that will not fit."""
    return sweep([spec], protocol, store=store, remeasure=remeasure, on_wait=on_wait)[0]
