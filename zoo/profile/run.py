"""One profile, start to end: the export (ONNX runtimes) and the profiled runs each in a fresh
process under the measurement lock, the ceilings measured or read, the document assembled and
kept in the data folder for the explorer's per-stage column and roofline.

The whole-model latency it is checked against is the protocol's timed loop, run just before and
just after the profiled calls on the same runner (their mean), so both see the same machine.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from zoo.errors import ZooError
from zoo.measure.isolation import run_isolated
from zoo.measure.locking import measurement_lock
from zoo.measure.orchestrate import STEP_TIMEOUT_S
from zoo.measure.timing import checked_runner, prepare_onnx, time_call
from zoo.models.build import build_model
from zoo.models.spec import ModelSpec
from zoo.profile.ceilings import ceilings_for
from zoo.profile.costs import COUNTED, part_costs
from zoo.profile.layers import Place, module_of_layer, module_places, place_layers
from zoo.profile.stages import profile_document
from zoo.records.environment import resolve_protocol
from zoo.records.protocol import Protocol
from zoo.records.runtimes import get_runtime
from zoo.runtimes.runner import profile_layers, require_profiler, time_parts

__all__ = ["DEFAULT_CALLS", "profile", "profile_in_process", "scaled_to_parts"]

#: Profiled calls per profile (after the runtime's own warm-up).
DEFAULT_CALLS = 30
#: How a profile's part times were taken, as its document says.
PARTS_PROFILED = "each part: the sum of its layers' times from the runtime's profiler"
PARTS_ALONE = (
    "each part run alone (its own sub-graph and session, the protocol's timed loop); the split "
    "within a part by operator kind from the runtime's profiler, whose own times run slow "
    "(profiler_ms: their sum)"
)


def profile_in_process(
    spec: ModelSpec, protocol: Protocol, prepared: dict[str, Any] | None, calls: int
) -> dict[str, Any]:
    """Build and check the runner, time the whole model, profile its layers, time it again;
    place every layer. Plain values back."""
    import torch

    assert protocol.threads is not None
    torch.set_num_threads(protocol.threads)
    runner, check, figures, source = checked_runner(spec, protocol, prepared)
    if check is not None and not check.verified:
        raise ZooError(
            f"{protocol.runtime}'s outputs differ from eager fp32 ({check.reason}): not profiled"
        )
    places = module_places(build_model(spec, device="meta"))
    whole = [time_call(runner.call, protocol, sync=runner.sync).latency_ms_median]
    layers = profile_layers(protocol.runtime, source, protocol, calls)
    alone = None
    if get_runtime(protocol.runtime).parts_alone:
        alone = time_parts(
            protocol.runtime, source, protocol, lambda node: _part_of(node, places),
            lambda call: time_call(call, protocol).latency_ms_median,
        )  # fmt: skip
    whole.append(time_call(runner.call, protocol, sync=runner.sync).latency_ms_median)
    costs, counted = part_costs(spec, protocol.precision)
    return {
        "placed": [(p.part, p.kind, ms, named) for p, ms, named in place_layers(layers, places)],
        "costs": [(part, kind, macs, nbytes) for (part, kind), (macs, nbytes) in costs.items()],
        "counted": counted,
        "whole_ms_runs": whole,
        "alone": alone,
        "runtime_precision": runner.info.get("runtime_precision", protocol.precision),
        "runtime_version": runner.info.get("runtime_version", ""),
        "equivalence": check.as_fields() if check is not None else None,
        "macs": figures["macs"],
        "params": figures["params"],
    }


def _part_of(layer: str, places: dict[str, Place]) -> str | None:
    module = module_of_layer(layer, places)
    return places[module].part if module is not None else None


def scaled_to_parts(
    placed: list[tuple[str, str, float, bool]], alone: dict[str, float]
) -> list[tuple[str, str, float, bool]]:
    """``placed`` with each part's layers scaled to sum to that part's time run alone (the
    profiler kept for the split within a part); a part with no profiled layer as one row."""
    by_part: dict[str, float] = {}
    for part, _, ms, _ in placed:
        by_part[part] = by_part.get(part, 0.0) + ms
    scaled = [
        (part, kind, ms * alone[part] / by_part[part] if by_part[part] > 0 and part in alone
         else ms, named)
        for part, kind, ms, named in placed
    ]  # fmt: skip
    scaled += [(part, "other", ms, False) for part, ms in alone.items() if part not in by_part]
    return scaled


def profile(spec: ModelSpec, protocol: Protocol, calls: int = DEFAULT_CALLS) -> dict[str, Any]:
    """``spec``'s profile on ``protocol``'s runtime (batch 1), measured now: the document that
    ``zoo profile`` prints and the explorer reads."""
    if protocol.batch_size != 1:
        raise ZooError(f"a profile runs batch 1, not {protocol.batch_size}; accepted: 1")
    if not 5 <= calls <= 1000:
        raise ZooError(f"the profiled calls must be from 5 to 1000, got {calls}")
    protocol = resolve_protocol(replace(protocol, rounds=1))
    require_profiler(protocol.runtime)
    what = f"profile of {spec.model} at {spec.resolution}px on {protocol.runtime}"
    with measurement_lock():
        prepared = None
        if get_runtime(protocol.runtime).exports_onnx:
            prepared = run_isolated(
                prepare_onnx, (spec, protocol, False), what=f"{what} (export)",
                timeout_s=STEP_TIMEOUT_S,
            )  # fmt: skip
        raw = run_isolated(
            profile_in_process, (spec, protocol, prepared, calls), what=what,
            timeout_s=STEP_TIMEOUT_S,
        )  # fmt: skip
        peak_precision = "bf16" if protocol.precision == "bf16" else "fp32"
        ceilings = run_isolated(
            ceilings_for, (protocol.threads, peak_precision), what="the machine's ceilings",
            timeout_s=STEP_TIMEOUT_S,
        )  # fmt: skip
    costs = {(part, kind): (macs, nbytes) for part, kind, macs, nbytes in raw["costs"]}
    whole = sum(raw["whole_ms_runs"]) / len(raw["whole_ms_runs"])
    placed = [(str(a), str(b), float(c), bool(d)) for a, b, c, d in raw["placed"]]
    profiler_ms = sum(ms for _, _, ms, _ in placed)
    if raw["alone"]:
        placed = scaled_to_parts(placed, raw["alone"])
    document = profile_document(placed, costs, whole, ceilings)
    info = get_runtime(protocol.runtime)
    return {
        "model": spec.model,
        "resolution": spec.resolution,
        "runtime": protocol.runtime,
        "precision": protocol.precision,
        "runtime_precision": raw["runtime_precision"],
        "runtime_version": raw["runtime_version"],
        "batch_size": 1,
        "threads": protocol.threads,
        "device": protocol.device,
        "profiler": info.profiler,
        "calls": calls,
        "whole_ms_runs": raw["whole_ms_runs"],
        "whole_protocol": "the protocol's timed loop (median), once before and once after the "
        "profiled calls, on the same runner; their mean",
        "counted": COUNTED[raw["counted"]],
        "parts_timed": PARTS_ALONE if raw["alone"] else PARTS_PROFILED,
        "profiler_ms": profiler_ms,
        "macs": raw["macs"],
        "params": raw["params"],
        "equivalence": raw["equivalence"],
        "profiled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **document,
    }
