"""Measure models' latency, throughput and peak memory with a stated protocol: the orchestration.

``plan`` validates a request completely (protocol, device, runtime, memory) before anything runs;
``run_plan`` measures it, returning stored results where they exist and storing each new one as
it lands; ``sweep`` and ``measure`` do both in one call, ``sweep_best`` on every runtime. Why a
result is stored before the machine-wide lock is released: an identical request waiting for the
lock then finds it instead of measuring again. The protocol: docs/benchmarks.md, 'The latency
protocol'; the path from a click: docs/architecture.md, 'How a measurement flows'.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from zoo.errors import ZooError
from zoo.measure.integrity import Digests
from zoo.measure.isolation import run_isolated
from zoo.measure.locking import measurement_lock
from zoo.measure.memory import check_fits
from zoo.measure.quiet import wait_for_quiet
from zoo.measure.timing import measure_in_process, prepare_onnx
from zoo.models.spec import ModelSpec
from zoo.records.environment import Environment, cuda_present, environment_for, resolve_protocol
from zoo.records.measurement import Measurement, MeasurementError
from zoo.records.protocol import Protocol
from zoo.records.runtimes import (
    REFERENCE_RUNTIME,
    base_runtime,
    device_kind,
    get_runtime,
    runtimes_for,
)
from zoo.runtimes.runner import missing_package
from zoo.store.measurement_store import MeasurementStore

__all__ = [
    "BestResult",
    "Plan",
    "VerificationError",
    "available_runtimes",
    "measure",
    "measure_isolated",
    "plan",
    "preferred_runtime",
    "run_plan",
    "sweep",
    "sweep_best",
]

#: Seconds one step (export, or prepare + check + time) may run before it is stopped; the
#: compile budget is added for the runtimes that compile. Both can be raised for big batches.
STEP_TIMEOUT_S = float(os.environ.get("EFFSCALE_STEP_TIMEOUT_S", "1800"))
COMPILE_BUDGET_S = float(os.environ.get("EFFSCALE_COMPILE_BUDGET_S", "900"))
#: Seconds a measurement waits for a quiet machine before timing anyway (and being flagged).
QUIET_WAIT_S = float(os.environ.get("EFFSCALE_QUIET_WAIT_S", "60"))


class VerificationError(MeasurementError):
    """A runtime whose outputs differ from eager fp32's beyond the tolerance: not timed, not
    stored; the message carries the numbers."""


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
    missing = missing_package(resolved.runtime)
    if missing:
        raise ZooError(missing)
    for spec in specs:
        check_fits(spec, resolved.batch_size, resolved.precision, resolved.device)
    return Plan(specs=specs, protocol=resolved, environment=environment_for(resolved))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def measure_isolated(
    spec: ModelSpec, protocol: Protocol, digests: Digests | None = None
) -> dict[str, Any]:
    """Measure ``spec`` with a resolved ``protocol`` in fresh processes: the ONNX export and the
    eager reference first for ONNX runtimes, then the runtime's check and timing.

    Cached artefacts are used only when ``digests`` (the store's) vouch for them; a runtime
    whose outputs disagree is measured once more from scratch (its export and kernel cache
    rebuilt) before it is reported as failed."""
    what = f"{spec.model} at {spec.resolution}px on {protocol.runtime}"
    digests = digests or Digests(None, "")
    info = get_runtime(protocol.runtime)
    budget = STEP_TIMEOUT_S + (COMPILE_BUDGET_S if info.compiles else 0.0)
    rebuild = False
    for attempt in (1, 2):
        digests.clean_kernel_cache(protocol.runtime)
        prepared = None
        if info.exports_onnx:
            prepared = _prepare(spec, protocol, what, rebuild)
            if not digests.trusted_export(prepared):  # not what passed its check before
                prepared = _prepare(spec, protocol, what, rebuild=True)
        result = run_isolated(
            measure_in_process, (spec, protocol, prepared), what=what, timeout_s=budget
        )
        if result.get("verified") is not False:
            digests.record_verified(protocol.runtime, prepared)
            result.pop("verify_reason", None)
            return result
        if attempt == 1:  # a damaged export or kernel cache: rebuild everything, once
            digests.forget_and_discard(protocol.runtime, prepared)
            rebuild = True
    raise VerificationError(
        f"measurement failed (VerificationError): {what}: its outputs differ from eager fp32 "
        f"on the same weights, also when rebuilt from scratch ({result['verify_reason']}; max "
        f"abs {result['equiv_max_abs']:.3g}; top-1 agreement {result['equiv_top1_pct']:.1f} % "
        f"on {result['equiv_inputs']}): not timed, not stored"
    )


def _prepare(spec: ModelSpec, protocol: Protocol, what: str, rebuild: bool) -> dict[str, Any]:
    return run_isolated(
        prepare_onnx, (spec, protocol, rebuild), what=f"{what} (export)", timeout_s=STEP_TIMEOUT_S
    )


def _measure_one(
    spec: ModelSpec,
    protocol: Protocol,
    env: Environment,
    store: MeasurementStore | None,
    remeasure: bool,
    on_wait: Callable[[], None] | None,
    on_busy: Callable[[float, float], None] | None = None,
) -> Measurement:
    with measurement_lock(on_wait):
        # Checked again under the lock: another process may have measured it since we looked.
        if store is not None and not remeasure:
            stored = store.get(spec, protocol, env.key)
            if stored is not None and not stored.noisy:
                return stored
        if QUIET_WAIT_S > 0:
            wait_for_quiet(QUIET_WAIT_S, on_busy)
        result = measure_isolated(spec, protocol, Digests(store, env.host))
        measurement = _record(spec, protocol, env, result)
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
        runtime=protocol.runtime,
        rounds=protocol.rounds,
        calibration=protocol.calibration,
        device=env.device,
        device_name=env.device_name,
        cpu_model=env.cpu_model,
        torch_version=env.torch_version,
        timm_version=env.timm_version,
        environment_key=env.key,
        measured_at=_now(),
        host=env.host,
        node=env.node,
        gpu_driver=env.gpu_driver,
    )


def run_plan(
    request: Plan,
    *,
    store: MeasurementStore | None,
    remeasure: bool = False,
    on_result: Callable[[Measurement], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
    on_busy: Callable[[float, float], None] | None = None,
) -> list[Measurement]:
    """Measure each spec of ``request`` in order, returning stored results instead unless
    ``remeasure``. Each finished row is committed at once; ``should_stop()`` is checked between
    models; ``on_result`` sees each result, stored or new, in order; ``on_wait`` is called if
    another measurement holds the lock; ``on_busy(cores, waited_s)`` while it waits for a quiet
    machine (at most ``QUIET_WAIT_S``). A stored result that was noisy is measured again."""
    protocol, env = request.protocol, request.environment
    results: list[Measurement] = []
    for spec in request.specs:
        result = None if remeasure or store is None else store.get(spec, protocol, env.key)
        if result is None or result.noisy:  # a noisy result is never served as if clean
            if should_stop is not None and should_stop():
                break
            result = _measure_one(spec, protocol, env, store, remeasure, on_wait, on_busy)
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
    on_busy: Callable[[float, float], None] | None = None,
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
        on_busy=on_busy,
    )


def measure(
    spec: ModelSpec,
    protocol: Protocol = Protocol(),
    *,
    store: MeasurementStore | None = None,
    remeasure: bool = False,
    on_wait: Callable[[], None] | None = None,
    on_busy: Callable[[float, float], None] | None = None,
) -> Measurement:
    """Measure one model (or return its stored result, ``from_store=True``, unless
    ``remeasure``). Refuses, before allocating anything, a model or batch that will not fit."""
    return sweep(
        [spec], protocol, store=store, remeasure=remeasure, on_wait=on_wait, on_busy=on_busy
    )[0]


def available_runtimes(device: str, precision: str = "fp32") -> tuple[str, ...]:
    """The runtimes that can measure on ``device`` (resolved) in ``precision`` on this machine,
    in the order ``best`` measures them (the runtime table's, the compiling ones last)."""
    kind = device_kind(device)
    if kind == "cuda" and not cuda_present():
        return ()
    found = [r for r in runtimes_for(kind, precision) if missing_package(r) is None]
    return tuple(sorted(found, key=lambda r: get_runtime(r).compiles))


def preferred_runtime(device: str) -> str:
    """The runtime a measurement asked for without one uses (the dashboard's first-run sweep and
    its "measure this configuration"): the available one of best ``preference`` in the runtime
    table, which ranks those that are usually fastest and build quickly (OpenVINO, then ONNX
    Runtime, then eager on a CPU; eager on CUDA: a TensorRT engine takes minutes)."""
    ranked = [r for r in available_runtimes(device) if get_runtime(r).preference is not None]
    return min(ranked, key=lambda r: get_runtime(r).preference or 0, default=REFERENCE_RUNTIME)


def preferred_protocol(device: str = "cpu") -> Protocol:
    """What the dashboard measures with when nobody chose otherwise (its first-run sweep, a
    configuration from the explorer, latencies for an evaluation): batch 1, fp32, the
    ``preferred_runtime``, the default timing bounds."""
    return Protocol(device=device, batch_size=1, runtime=preferred_runtime(device))


@dataclass(frozen=True)
class BestResult:
    """``sweep_best``'s answer: the fastest verified measurement per model (in order; None where
    no runtime succeeded), every measurement taken, and why each runtime that failed did."""

    best: tuple[Measurement | None, ...]
    measurements: tuple[Measurement, ...]
    failures: tuple[tuple[str, str, str], ...]  # (model, runtime, reason)


def sweep_best(
    specs: Iterable[ModelSpec],
    protocol: Protocol = Protocol(),
    *,
    store: MeasurementStore | None,
    remeasure: bool = False,
    runtimes: Iterable[str] | None = None,
    on_result: Callable[[Measurement], None] | None = None,
    on_failure: Callable[[str, str, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
    protocols: Iterable[Protocol] | None = None,
) -> BestResult:
    """Measure ``specs`` with every runtime available for the device (or ``runtimes``), each one
    stored as its own result, and pick per model the fastest that passed the equivalence check.
    A runtime failing for a model (export, compile budget, verification) is a failure of that
    pair, not of the sweep. ``protocol.runtime`` is ignored. ``protocols``: one protocol per
    precision to search (``--precision best``), each with every chosen runtime that offers it."""
    specs = tuple(specs)
    pairs = []
    for base in protocols if protocols is not None else (protocol,):
        first = base_runtime(device_kind(base.device), base.precision)
        resolved = resolve_protocol(replace(base, runtime=first))
        offered = available_runtimes(resolved.device, resolved.precision)
        chosen = tuple(r for r in runtimes if r in offered) if runtimes is not None else offered
        pairs += [replace(resolved, runtime=runtime) for runtime in chosen]
    measurements: list[Measurement] = []
    failures: list[tuple[str, str, str]] = []
    for paired in pairs:
        runtime = (
            paired.runtime
            if len({p.precision for p in pairs}) == 1
            else (f"{paired.runtime} {paired.precision}")
        )
        request = plan(specs, paired)
        for spec in request.specs:
            if should_stop is not None and should_stop():
                break
            try:
                (result,) = run_plan(
                    replace(request, specs=(spec,)),
                    store=store,
                    remeasure=remeasure,
                    on_wait=on_wait,
                )
            except (MeasurementError, ZooError) as exc:  # an export, a budget, a check
                failures.append((spec.model, runtime, str(exc)))
                if on_failure is not None:
                    on_failure(spec.model, runtime, str(exc))
                continue
            measurements.append(result)
            if on_result is not None:
                on_result(result)
    best: list[Measurement | None] = []
    for spec in specs:
        mine = [
            m
            for m in measurements
            if m.model == spec.model and m.resolution == spec.resolution and m.verified
        ]
        best.append(min(mine, key=lambda m: m.latency_ms_median) if mine else None)
    return BestResult(tuple(best), tuple(measurements), tuple(failures))
