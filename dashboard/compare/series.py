"""Measurements as chart series: one protocol on one machine per series (a chart never mixes
them), the runtime choice (one runtime, or the fastest verified per model), and the join of a
series onto the reference rows (``compare_frame``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from dashboard.compare.reference import PROVENANCE_COLUMNS, REFERENCE_COLUMNS, to_float

#: Columns a measurement adds to a reference row.
MEASURED_COLUMNS: tuple[str, ...] = (
    "runtime",
    "latency_ms",
    "latency_ms_p90",
    "throughput_ips",
    "batch_size",
    "precision",
    "device",
    "machine",
    "cpu_model",
    "host",
    "protocol",
    "measured_at",
    "quality",
    "quality_reason",
    "rounds_used",
    "round_spread",
    "speed_level",
    "latency_ms_measured",
)


#: Columns of the compare table, in display order (the provenance last).
COMPARE_COLUMNS: tuple[str, ...] = (
    *(c for c in REFERENCE_COLUMNS if c not in PROVENANCE_COLUMNS),
    *MEASURED_COLUMNS,
    *PROVENANCE_COLUMNS,
)


_MACHINE_FIELDS = ("device", "device_name", "cpu_model", "threads", "torch_version", "timm_version")


def runtime_of(m: Mapping[str, object]) -> str:
    """The runtime a measurement record names (rows from before runtimes existed: the reference).

    >>> runtime_of({'runtime': 'compile'}), runtime_of({})
    ('compile', 'eager')
    """
    from zoo import REFERENCE_RUNTIME

    return str(m.get("runtime") or REFERENCE_RUNTIME)


def machine_of(m: Mapping[str, object]) -> str:
    """The machine a measurement was taken on, as the compare page names it: the cluster node's
    name, else the host name, else (rows from before hosts were recorded) the device's name.

    >>> machine_of({"node": "n-a", "host": "vm"}), machine_of({"host": "vm"})
    ('n-a', 'vm')
    >>> machine_of({"device_name": "Intel(R) Xeon(R) CPU"})
    'Intel(R) Xeon(R) CPU'
    """
    return str(m.get("node") or m.get("host") or m.get("device_name") or m.get("device") or "?")


def series_key(m: Mapping[str, object], *, any_runtime: bool = False) -> tuple[object, ...]:
    """What two measurements must share to be points of one chart series: the machine and
    software (``environment_key``) and every protocol setting (``zoo.records.protocol.protocol_key``,
    the store's own key). ``any_runtime``: the same but for the runtime (and its version), for
    the "fastest runtime per model" series."""
    from zoo import REFERENCE_RUNTIME, protocol_key

    if not any_runtime:
        return m.get("environment_key"), protocol_key(m)
    machine = tuple(m.get(field) for field in _MACHINE_FIELDS)
    return machine, protocol_key({**m, "runtime": REFERENCE_RUNTIME})


def for_runtime(measurements: Iterable[Mapping[str, object]], runtime: str) -> list[Mapping]:
    """The measurements the chart may draw for ``runtime`` (or ``zoo.BEST``): verified ones
    only (a runtime whose outputs differ from eager fp32's never becomes a point), of that
    runtime, or for ``best`` the fastest per model and resolution."""
    from zoo import BEST

    verified = [m for m in measurements if m.get("verified", True) is not False]
    if runtime != BEST:
        return [m for m in verified if runtime_of(m) == runtime]
    fastest: dict[tuple[object, object, tuple[object, ...]], Mapping[str, object]] = {}
    for m in verified:
        key = (m.get("model"), m.get("resolution"), series_key(m, any_runtime=True))
        latency = to_float(m.get("latency_ms_median"))
        old = fastest.get(key)
        if latency is not None and (
            old is None or latency < (to_float(old.get("latency_ms_median")) or float("inf"))
        ):
            fastest[key] = m
    return list(fastest.values())


def protocol_label(m: Mapping[str, object]) -> str:
    """A one-line description of how a latency was measured (one series' protocol).

    >>> protocol_label({"batch_size": 1, "precision": "fp32", "channels_last": True,
    ...                 "threads": 2, "warmup_iters": 3, "min_iters": 5, "max_iters": 50,
    ...                 "max_seconds": 10.0, "torch_version": "2.14.1", "device_name": "CPU X"})
    'eager, batch 1, fp32, channels_last, 2 threads, warm-up 3, 5–50 iters ≤ 10 s, torch 2.14.1, CPU X'
    """
    runtime = runtime_of(m)
    parts = [f"{runtime} {m.get('runtime_version')}" if m.get("runtime_version") else runtime]
    parts += [
        f"batch {m.get('batch_size')}",
        str(m.get("precision")),
        "channels_last" if m.get("channels_last") else "NCHW",
    ]
    if m.get("threads"):
        parts.append(f"{m.get('threads')} threads")
    if m.get("max_iters"):
        parts.append(f"warm-up {m.get('warmup_iters')}")
        parts.append(
            f"{m.get('min_iters')}–{m.get('max_iters')} iters ≤ {m.get('max_seconds'):g} s"
        )
    parts.append(f"torch {m.get('torch_version')}")
    if m.get("device_name"):
        parts.append(str(m.get("device_name")))
    return ", ".join(parts)


def split_series(
    measurements: Iterable[Mapping[str, object]], *, any_runtime: bool = False
) -> list[tuple[str, list[Mapping[str, object]]]]:
    """Measurements grouped by series, as (protocol label, rows): the series with the most
    models first, then the most recent. A chart draws one of them, never a mix."""
    groups: dict[tuple[object, ...], list[Mapping[str, object]]] = {}
    for m in measurements:
        groups.setdefault(series_key(m, any_runtime=any_runtime), []).append(m)

    def rank(rows: list[Mapping[str, object]]) -> tuple[int, str]:
        models = {str(m.get("model")) for m in rows}
        return len(models), max(str(m.get("measured_at", "")) for m in rows)

    ordered = sorted(groups.values(), key=rank, reverse=True)
    if any_runtime:
        return [
            (protocol_label({**rows[0], "runtime": "fastest runtime per model"}), rows)
            for rows in ordered
        ]
    return [(protocol_label(rows[0]), rows) for rows in ordered]


def compare_frame(
    reference: pd.DataFrame,
    measurements: Iterable[Mapping[str, object]],
    *,
    any_runtime: bool = False,
) -> pd.DataFrame:
    """Reference rows joined with the newest measurement of each model at the reference
    resolution (plain dicts, e.g. ``Measurement.to_dict()``). The rows must be one series
    (``split_series``): measurements of different protocols are never mixed on one chart.
    Models without a measurement keep an empty latency."""
    measurements = list(measurements)
    if len({series_key(m, any_runtime=any_runtime) for m in measurements}) > 1:
        raise ValueError(
            "compare_frame got measurements of several protocols; pass one series "
            "(split_series) so that the chart never mixes them"
        )
    wanted_px = {str(r.model): int(r.resolution_px) for r in reference.itertuples()}
    latest: dict[str, Mapping[str, object]] = {}
    for m in measurements:
        model = str(m.get("model", "")).partition(".")[0]
        if not model:
            continue
        # Only a measurement at the resolution the accuracy was measured at belongs on the chart.
        if model in wanted_px and m.get("resolution") not in (None, wanted_px[model]):
            continue
        old = latest.get(model)
        # A clean (or pre-verdict) result beats a noisy one; among equals, the newest.
        if old is None or (m.get("quality") != "noisy", str(m.get("measured_at", ""))) >= (
            old.get("quality") != "noisy",
            str(old.get("measured_at", "")),
        ):
            latest[model] = m
    frame = reference.copy()
    extra: dict[str, list[object]] = {c: [] for c in MEASURED_COLUMNS}
    for r in frame.itertuples():
        m = latest.get(str(r.model))
        if m is None:
            for values in extra.values():
                values.append(None)
            continue
        extra["runtime"].append(runtime_of(m))
        extra["latency_ms"].append(to_float(m.get("latency_ms_median")))
        extra["latency_ms_p90"].append(to_float(m.get("latency_ms_p90")))
        extra["throughput_ips"].append(to_float(m.get("throughput_ips")))
        extra["batch_size"].append(m.get("batch_size"))
        extra["precision"].append(m.get("precision"))
        extra["device"].append(m.get("device_name") or m.get("device"))
        extra["machine"].append(machine_of(m))
        extra["cpu_model"].append(m.get("cpu_model"))
        extra["host"].append(m.get("host") or None)
        extra["protocol"].append(protocol_label(m))
        extra["measured_at"].append(m.get("measured_at"))
        extra["quality"].append(m.get("quality") or None)
        extra["quality_reason"].append(m.get("quality_reason") or None)
        extra["rounds_used"].append(m.get("rounds_used") or None)
        extra["round_spread"].append(to_float(m.get("round_spread")))
        extra["speed_level"].append(to_float(m.get("speed_level")))
        extra["latency_ms_measured"].append(to_float(m.get("latency_ms_measured")))
    for column, values in extra.items():
        frame[column] = values
    # A measured MACs count (from the zoo's counter) replaces a missing reference one.
    for i, r in enumerate(frame.itertuples()):
        m = latest.get(str(r.model))
        if m is not None and pd.isna(r.gmacs) and to_float(m.get("macs")):
            frame.loc[frame.index[i], "gmacs"] = float(m["macs"]) / 1e9
            frame.loc[frame.index[i], "macs_source"] = f"zoo ({m.get('macs_backend')})"
    # Extra columns of the reference (``own_accuracy_reference``) follow the compare columns.
    return frame[[*COMPARE_COLUMNS, *(c for c in frame.columns if c not in COMPARE_COLUMNS)]]
