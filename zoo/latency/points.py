"""The measurements a latency model is fitted on, and the fit kept up to date: this machine's
clean, verified EfficientNet rows in the store for one runtime, precision and batch.

Why this machine only: a shared store holds other machines' rows under other environment keys
and host names, and a model fitted across machines predicts neither (docs/latency-model.md).
"""

from __future__ import annotations

from datetime import UTC, datetime

from explorer import ScaledNetwork
from zoo.latency.features import part_features
from zoo.latency.fit import LatencyModel, Part, fit_latency_model
from zoo.models.spec import network_for, spec_from_name
from zoo.profile.saved import load_profile
from zoo.records.environment import environment_for
from zoo.records.measurement import Measurement
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore

__all__ = ["fit_from_store", "profiled_parts", "points_for"]


def _usable(row: Measurement, protocol: Protocol, machine: str, host: str) -> bool:
    return (
        row.environment_key == machine
        and row.host == host
        and row.runtime == protocol.runtime
        and row.precision == protocol.precision
        and row.batch_size == protocol.batch_size
        and row.verified
        and row.quality == "clean"
        and row.channels_last == protocol.channels_last
    )


def points_for(
    store: MeasurementStore, protocol: Protocol
) -> tuple[list[tuple[ScaledNetwork, float]], list[str], dict[str, str]]:
    """This machine's points for ``protocol``: (network, median ms) with their names, and the
    machine's description (environment key, host, device name)."""
    env = environment_for(protocol)
    points, names = [], []
    for row in store.rows(device=env.device):
        if not _usable(row, protocol, env.key, env.host):
            continue
        spec = spec_from_name(row.model, row.resolution)
        network = network_for(spec) if spec is not None else None
        if network is not None:
            points.append((network, row.latency_ms_median))
            names.append(f"{row.model}@{row.resolution}")
    machine = {"machine": env.key, "host": env.host, "device_name": env.device_name}
    return points, names, machine


def profiled_parts(
    points: list[tuple[ScaledNetwork, float]], names: list[str], protocol: Protocol, threads: int
) -> tuple[list[Part], tuple[str, ...]]:
    """The per-part equations of the points this machine kept a profile of (``zoo profile``,
    same runtime, precision and threads; batch 1), and those points' names. A profile's part
    times are scaled to its own whole-model latency: the profiler tells how the time splits,
    not how long it is (its own overhead inflates the sum, docs/profile.md)."""
    if protocol.batch_size != 1:
        return [], ()
    parts, used = [], []
    for index, ((network, _), name) in enumerate(zip(points, names, strict=True)):
        model, _, px = name.rpartition("@")
        kept = load_profile(model, int(px), protocol.runtime, protocol.precision)
        if kept is None or kept.get("threads") != threads or not kept["profiled_ms"] > 0:
            continue
        features = part_features(network, 1, protocol.precision)
        scale = kept["whole_ms"] / kept["profiled_ms"]
        found = [p for p in kept["parts"] if p["name"] in features]
        parts += [Part(index, tuple(features[p["name"]]), p["ms"] * scale) for p in found]
        used += [name] if found else []
    return parts, tuple(used)


def fit_from_store(store: MeasurementStore, protocol: Protocol) -> LatencyModel:
    """A model fitted to this machine's points for ``protocol``, and to the profiles kept of
    them (a ``ZooError`` naming the calibrate command when there are too few points)."""
    points, names, machine = points_for(store, protocol)
    threads = environment_for(protocol).threads
    parts, profiled = profiled_parts(points, names, protocol, threads)
    return fit_latency_model(
        points,
        **machine,
        runtime=protocol.runtime,
        precision=protocol.precision,
        batch_size=protocol.batch_size,
        models=tuple(names),
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        parts=parts,
        profiled=profiled,
    )
