"""pandas frames behind the dashboard's tables and charts (no streamlit, no torch).

Column names carry units (``params``, ``macs``, ``latency_ms``, ``top1_pct``, ``resolution_px``).
MACs are multiply-accumulates; ``flops`` where present is ``2 * macs``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

import data
from dashboard.state import MAX_VALUE_CHARS
from data import accuracy
from explorer import (
    PUBLISHED_VARIANTS,
    ScaledNetwork,
    compound_multipliers,
    from_variant,
    get_variant,
    implied_phi,
    scaled_resolution,
)
from explorer.equal_cost import EqualCost


def stage_frame(network: ScaledNetwork) -> pd.DataFrame:
    """The per-stage table: stem, the seven MBConv stages, head and classifier."""
    rows: list[dict[str, object]] = [
        {
            "stage": "stem",
            "block": "Conv3x3",
            "kernel": 3,
            "stride": 2,
            "expand": None,
            "in_channels": 3,
            "out_channels": network.stem_channels,
            "repeats": 1,
            "input_px": network.resolution,
            "output_px": network.stages[0].input_resolution,
            "params": network.stem.params,
            "macs": network.stem.macs,
        }
    ]
    for s in network.stages:
        rows.append(
            {
                "stage": str(s.index),
                "block": s.block,
                "kernel": s.kernel,
                "stride": s.stride,
                "expand": s.expand_ratio,
                "in_channels": s.in_channels,
                "out_channels": s.out_channels,
                "repeats": s.repeats,
                "input_px": s.input_resolution,
                "output_px": s.output_resolution,
                "params": s.params,
                "macs": s.macs,
            }
        )
    last = network.stages[-1]
    rows.append(
        {
            "stage": "head",
            "block": "Conv1x1",
            "kernel": 1,
            "stride": 1,
            "expand": None,
            "in_channels": last.out_channels,
            "out_channels": network.head_channels,
            "repeats": 1,
            "input_px": last.output_resolution,
            "output_px": last.output_resolution,
            "params": network.head.params,
            "macs": network.head.macs,
        }
    )
    rows.append(
        {
            "stage": "fc",
            "block": "Linear",
            "kernel": None,
            "stride": None,
            "expand": None,
            "in_channels": network.head_channels,
            "out_channels": network.num_classes,
            "repeats": 1,
            "input_px": 1,
            "output_px": 1,
            "params": network.classifier.params,
            "macs": network.classifier.macs,
        }
    )
    frame = pd.DataFrame(rows)
    frame["macs_share_pct"] = 100.0 * frame["macs"] / network.macs
    return frame


def _diff_pct(official: float, formula: float) -> float | None:
    """How far the official value is from the formula's, in %; None where the formula gives
    nothing to compare with (a resolution that rounds to 0 px for a tiny γ, say).

    >>> _diff_pct(1.1, 1.0), _diff_pct(240, 0)
    (10.000000000000009, None)
    """
    ratio = official / formula if formula else math.inf
    return 100.0 * (ratio - 1) if math.isfinite(ratio) else None


def formula_vs_official_frame(
    alpha: float, beta: float, gamma: float, variants: Sequence[str] = PUBLISHED_VARIANTS
) -> pd.DataFrame:
    """Official B0–B7 against α^φ, β^φ, γ^φ at φ = 0 … 7, with the per-dimension implied φ.

    Why integer φ: the paper names B1–B7 as φ = 1 … 7 steps but publishes hand-rounded values,
    so the table shows how far each is from the formula.
    """
    rows = []
    for phi, name in enumerate(variants):
        v = get_variant(name)
        m = compound_multipliers(phi, alpha, beta, gamma)
        implied = implied_phi(v, alpha, beta, gamma)
        formula_px = scaled_resolution(m.resolution)
        rows.append(
            {
                "variant": name.upper(),
                "phi": phi,
                "official_depth": v.depth_multiplier,
                "formula_depth": m.depth,
                "depth_diff_pct": _diff_pct(v.depth_multiplier, m.depth),
                "official_width": v.width_multiplier,
                "formula_width": m.width,
                "width_diff_pct": _diff_pct(v.width_multiplier, m.width),
                "official_px": v.resolution,
                "formula_px": formula_px,
                "resolution_diff_pct": _diff_pct(v.resolution, formula_px),
                "implied_phi_depth": implied.depth,
                "implied_phi_width": implied.width,
                "implied_phi_resolution": implied.resolution,
            }
        )
    return pd.DataFrame(rows)


def equal_cost_frame(compound: ScaledNetwork, eq: EqualCost) -> pd.DataFrame:
    """Compound network next to its depth-only, width-only and resolution-only twins."""
    rows = []
    for label, net, at_bound in (
        ("compound", compound, False),
        ("depth only", eq.depth.network, eq.depth.at_bound),
        ("width only", eq.width.network, eq.width.at_bound),
        ("resolution only", eq.resolution.network, eq.resolution.at_bound),
    ):
        rows.append(
            {
                "scaling": label,
                "depth_multiplier": net.depth_multiplier,
                "width_multiplier": net.width_multiplier,
                "resolution_px": net.resolution,
                "total_blocks": net.total_blocks,
                "params": net.params,
                "macs": net.macs,
                "macs_vs_target_pct": 100.0 * (net.macs / eq.target_macs - 1),
                "reachable": not at_bound,
            }
        )
    return pd.DataFrame(rows)


def paper_vs_exact_frame() -> pd.DataFrame:
    """The paper's printed Table 2 params and FLOPs (which are MACs) against the exact counts.

    The exact counts are the explorer's at the official resolution; torchvision's published
    parameter counts are shown too (they are equal). The paper rounds, and for some rows it is
    off by more than its rounding (B2's 9.2M parameters, B4's 4.2B and B5's 9.9B FLOPs): the
    differences are shown, not hidden.
    """
    paper = data.load_frame("paper_table2")
    paper = paper[paper["arxiv_version"] == "v5"].set_index("arch")
    torchvision = data.load_frame("torchvision_weights")
    torchvision = torchvision[torchvision["weights"].str.endswith("IMAGENET1K_V1")]
    tv_params = dict(zip(torchvision["arch"], torchvision["params"], strict=True))
    rows = []
    for name in PUBLISHED_VARIANTS:
        net = from_variant(name)
        printed = paper.loc[f"efficientnet_{name}"]
        rows.append(
            {
                "variant": name.upper(),
                "resolution_px": net.resolution,
                "paper_params_m": printed["params_m"],
                "exact_params": net.params,
                "params_diff_pct": 100.0 * (net.params / 1e6 / printed["params_m"] - 1),
                "torchvision_params": tv_params.get(f"efficientnet_{name}"),
                "paper_gmacs": printed["paper_flops_b"],
                "exact_gmacs": net.macs / 1e9,
                "macs_diff_pct": 100.0 * (net.macs / 1e9 / printed["paper_flops_b"] - 1),
            }
        )
    return pd.DataFrame(rows)


def table7_frame() -> pd.DataFrame:
    """The paper's Table 7 (B0 scaled in one dimension vs compound, about 1.8 B MACs)."""
    frame = data.load_frame("paper_table7")
    return frame[
        [
            "scaling",
            "depth_multiplier",
            "width_multiplier",
            "resolution_multiplier",
            "paper_flops_b",
            "top1_pct",
        ]
    ].rename(columns={"paper_flops_b": "paper_gmacs"})


# --------------------------------------------------------------------------- compare page

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
)
#: Columns of one chart row before measurement: the accuracy (what, from where, on which
#: checkpoint and training data, at which input size) and the cost of the network the zoo times.
#: ``eval_px`` is the size the accuracy was measured at (empty where the source does not say);
#: ``resolution_px`` the size the zoo measures latency at. ``same_network`` is true only where
#: the accuracy was measured on timm's ``model`` itself; ``top1_source``/``_url``/``_retrieved``
#: are the accuracy row's provenance, ``view`` the accuracy view's label.
REFERENCE_COLUMNS: tuple[str, ...] = (
    "model",
    "family",
    "top1_pct",
    "top5_pct",
    "training_data",
    "accuracy_source",
    "checkpoint",
    "recipe",
    "eval_px",
    "resolution_px",
    "same_network",
    "loadable_here",
    "params_m",
    "gmacs",
    "macs_source",
    "top1_source",
    "top1_source_url",
    "top1_retrieved",
    "view",
)
_PROVENANCE = ("top1_source", "top1_source_url", "top1_retrieved", "view")
#: Columns of the compare table, in display order (the provenance last).
COMPARE_COLUMNS: tuple[str, ...] = (
    *(c for c in REFERENCE_COLUMNS if c not in _PROVENANCE),
    *MEASURED_COLUMNS,
    *_PROVENANCE,
)
#: The query parameter that holds the compare page's accuracy view (``?acc=paper``).
ACCURACY_VIEW_PARAM = "acc"


def reference_frame(view: str = accuracy.DEFAULT_VIEW) -> pd.DataFrame:
    """The chart's rows in accuracy view ``view`` (``data.accuracy``): one per architecture that
    has an accuracy there, with the cost of the network the zoo measures at ``resolution_px``.

    This is the one place the chart's accuracies come from. MACs are the explorer's exact count
    for EfficientNet-B0–B7, else timm's benchmark at that size, else the cost the accuracy's
    source prints; params are the measured network's (explorer, else timm's or torchvision's
    count), not the source's (Keras counts BatchNorm statistics, the paper rounds).
    """
    chosen = accuracy.view_points(view)
    gpu = data.load_frame("timm_benchmark_gpu")
    gmacs_by_arch_px = {
        (str(r.arch), int(r.resolution_px)): float(r.gmacs) for r in gpu.itertuples()
    }
    params_m = _params_m_by_arch()
    rows = []
    for p in chosen.points:
        arch, px = str(p.arch), int(p.measure_px or 0)
        gmacs, macs_source = _explorer_gmacs(arch, px)
        if gmacs is None and (arch, px) in gmacs_by_arch_px:
            gmacs, macs_source = gmacs_by_arch_px[(arch, px)], "timm benchmark CSV (fvcore)"
        if gmacs is None and p.source_gmacs is not None:
            gmacs = p.source_gmacs
            macs_source = f"printed by {p.accuracy_source}" + (
                "" if p.eval_px == px else "; input size not stated"
            )
        rows.append(
            {
                "model": arch,
                "family": data.family_label(arch),
                "top1_pct": p.top1_pct,
                "top5_pct": p.top5_pct,
                "training_data": p.training_data,
                "accuracy_source": p.accuracy_source,
                "checkpoint": p.checkpoint,
                "recipe": p.recipe,
                "eval_px": p.eval_px,
                "resolution_px": px,
                "same_network": p.same_network,
                "loadable_here": p.loadable_here,
                "params_m": params_m.get(arch, p.params_m),
                "gmacs": gmacs,
                "macs_source": macs_source,
                "top1_source": p.source,
                "top1_source_url": p.source_url,
                "top1_retrieved": p.retrieved,
                "view": chosen.view.label,
            }
        )
    frame = pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS))
    frame["eval_px"] = frame["eval_px"].astype("Int64")
    return frame


def _params_m_by_arch() -> dict[str, float]:
    """Parameters (millions) of each network the zoo builds: the explorer's exact count for
    EfficientNet-B0–B7, else timm's ``param_count``, else torchvision's exact count."""
    counts: dict[str, float] = {}
    for r in data.load_rows("torchvision_weights"):
        if r["arch"] is not None:
            counts[str(r["arch"])] = int(r["params"]) / 1e6  # type: ignore[call-overload]
    for r in data.load_rows("timm_imagenet"):
        counts[str(r["arch"])] = float(r["params_m"])  # type: ignore[arg-type]
    for name in PUBLISHED_VARIANTS:
        params = from_variant(name).params / 1e6
        counts[f"efficientnet_{name}"] = counts[f"tf_efficientnet_{name}"] = params
    return counts


def accuracy_view_from_query(params: Mapping[str, object]) -> tuple[str, list[str]]:
    """The accuracy view a URL asks for (``?acc=…``) and a warning for a value that was ignored.

    A query string is untrusted: anything but a known view key (case and surrounding blanks do
    not matter) falls back to the default view with one warning; nothing here raises. Other
    parameters are not ours to judge.

    >>> accuracy_view_from_query({"acc": " Paper "})
    ('paper', [])
    >>> view, warnings = accuracy_view_from_query({"acc": ["<script>"]})
    >>> view, len(warnings)
    ('timm-in1k', 1)
    """
    default = accuracy.DEFAULT_VIEW
    try:
        value = params.get(ACCURACY_VIEW_PARAM)
    except Exception:  # noqa: BLE001 - a hostile mapping must not break the page
        return default, ["query parameters could not be read; showing the default accuracy view"]
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return default, []
    text = str(value)
    key = text.strip().lower()
    if len(text) <= MAX_VALUE_CHARS and key in {v.key for v in accuracy.VIEWS}:
        return key, []
    shown = text if len(text) <= 20 else text[:20] + "…"
    known = ", ".join(v.key for v in accuracy.VIEWS)
    label = accuracy.get_view(default).label
    return default, [
        f"ignored {ACCURACY_VIEW_PARAM}={shown!r}: not one of {known}; showing “{label}”"
    ]


def _explorer_gmacs(arch: str, resolution_px: int) -> tuple[float | None, str | None]:
    """Exact MACs for efficientnet_b0…b7 / tf_efficientnet_b0…b7 at ``resolution_px``."""
    name = arch.removeprefix("tf_").removeprefix("efficientnet_")
    if not arch.removeprefix("tf_").startswith("efficientnet_b") or len(name) != 2:
        return None, None
    try:
        v = from_variant(name)
    except ValueError:
        return None, None
    if resolution_px != v.resolution:
        from explorer import scale_network

        v = scale_network(v.width_multiplier, v.depth_multiplier, resolution_px)
    return v.macs / 1e9, "explorer (exact)"


#: The chart's runtime choice besides a single runtime: per model, the fastest verified one.
BEST_RUNTIME = "best"
_MACHINE_FIELDS = ("device", "device_name", "cpu_model", "threads", "torch_version", "timm_version")


def series_key(m: Mapping[str, object], *, any_runtime: bool = False) -> tuple[object, ...]:
    """What two measurements must share to be points of one chart series: the machine and
    software (``environment_key``) and every protocol setting (``zoo.protocol.protocol_key``,
    the store's own key). ``any_runtime``: the same but for the runtime (and its version), for
    the "fastest runtime per model" series."""
    from zoo.protocol import protocol_key

    if not any_runtime:
        return m.get("environment_key"), protocol_key(m)
    machine = tuple(m.get(field) for field in _MACHINE_FIELDS)
    return machine, protocol_key({**m, "runtime": "eager"})


def for_runtime(measurements: Iterable[Mapping[str, object]], runtime: str) -> list[Mapping]:
    """The measurements the chart may draw for ``runtime`` (or ``BEST_RUNTIME``): verified ones
    only (a runtime whose outputs differ from eager fp32's never becomes a point), of that
    runtime, or for ``best`` the fastest per model and resolution."""
    verified = [m for m in measurements if m.get("verified", True) is not False]
    if runtime != BEST_RUNTIME:
        return [m for m in verified if m.get("runtime", "eager") == runtime]
    fastest: dict[tuple[object, object, tuple[object, ...]], Mapping[str, object]] = {}
    for m in verified:
        key = (m.get("model"), m.get("resolution"), series_key(m, any_runtime=True))
        latency = _float(m.get("latency_ms_median"))
        old = fastest.get(key)
        if latency is not None and (
            old is None or latency < (_float(old.get("latency_ms_median")) or float("inf"))
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
    runtime = str(m.get("runtime", "eager"))
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
            "(tables.split_series) so that the chart never mixes them"
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
        extra["runtime"].append(m.get("runtime", "eager"))
        extra["latency_ms"].append(_float(m.get("latency_ms_median")))
        extra["latency_ms_p90"].append(_float(m.get("latency_ms_p90")))
        extra["throughput_ips"].append(_float(m.get("throughput_ips")))
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
    for column, values in extra.items():
        frame[column] = values
    # A measured MACs count (from the zoo's counter) replaces a missing reference one.
    for i, r in enumerate(frame.itertuples()):
        m = latest.get(str(r.model))
        if m is not None and pd.isna(r.gmacs) and _float(m.get("macs")):
            frame.loc[frame.index[i], "gmacs"] = float(m["macs"]) / 1e9
            frame.loc[frame.index[i], "macs_source"] = f"zoo ({m.get('macs_backend')})"
    # Extra columns of the reference (``own_accuracy_reference``) follow the compare columns.
    return frame[[*COMPARE_COLUMNS, *(c for c in frame.columns if c not in COMPARE_COLUMNS)]]


# --------------------------------------------------------------------------- machines

#: The compare table's column that names the machine of each point (a shared store holds many).
MACHINE_COLUMN = "machine"


def machine_of(m: Mapping[str, object]) -> str:
    """The machine a measurement was taken on, as the compare page names it: the cluster node's
    name, else the host name, else (rows from before hosts were recorded) the device's name.

    >>> machine_of({"node": "n-a", "host": "vm"}), machine_of({"host": "vm"})
    ('n-a', 'vm')
    >>> machine_of({"device_name": "Intel(R) Xeon(R) CPU"})
    'Intel(R) Xeon(R) CPU'
    """
    return str(m.get("node") or m.get("host") or m.get("device_name") or m.get("device") or "?")


def machines(measurements: Iterable[Mapping[str, object]]) -> list[tuple[str, str]]:
    """The machines among ``measurements`` as (machine, label): the one with the most models
    first, then by name. The label names its device and how many models it has.

    >>> machines([{"host": "a", "model": "m1", "device_name": "CPU X"},
    ...           {"host": "b", "model": "m1", "device_name": "T4"},
    ...           {"host": "b", "model": "m2", "device_name": "T4"}])
    [('b', 'b · T4 (2 models)'), ('a', 'a · CPU X (1 model)')]
    """
    models: dict[str, set[str]] = {}
    devices: dict[str, str] = {}
    for m in measurements:
        key = machine_of(m)
        models.setdefault(key, set()).add(str(m.get("model")))
        devices.setdefault(key, str(m.get("device_name") or m.get("device") or ""))
    ordered = sorted(models, key=lambda k: (-len(models[k]), k))
    return [
        (
            key,
            f"{key}{' · ' + devices[key] if devices[key] and devices[key] != key else ''} "
            f"({len(models[key])} model{'s' if len(models[key]) != 1 else ''})",
        )
        for key in ordered
    ]


def device_choices(here: Sequence[str], stored: Iterable[str]) -> tuple[str, ...]:
    """The compare page's devices: this machine's, then the device kinds other machines'
    measurements in the store were taken on (``cuda:1`` counts as ``cuda``).

    >>> device_choices(("cpu",), ["cpu", "cuda:0", "cuda:1"])
    ('cpu', 'cuda')
    """
    kinds = ("cuda" if str(d).startswith("cuda") else str(d) for d in stored)
    return tuple(dict.fromkeys([*here, *kinds]))


def runtime_choices(
    here: Sequence[str], measurements: Iterable[Mapping[str, object]]
) -> tuple[str, ...]:
    """The runtime choices: this machine's, then those of stored measurements (another machine
    may have measured one that is not installed here, TensorRT on a GPU node).

    >>> runtime_choices(("best", "eager"), [{"runtime": "tensorrt"}, {"runtime": "eager"}])
    ('best', 'eager', 'tensorrt')
    """
    return tuple(dict.fromkeys([*here, *(str(m.get("runtime", "eager")) for m in measurements)]))


def of_machines(
    measurements: Iterable[Mapping[str, object]], chosen: Iterable[str]
) -> list[Mapping[str, object]]:
    """The measurements taken on the ``chosen`` machines (``machine_of``)."""
    wanted = set(chosen)
    return [m for m in measurements if machine_of(m) in wanted]


def overlay_frame(
    reference: pd.DataFrame,
    measurements: Iterable[Mapping[str, object]],
    chosen: Sequence[str],
    *,
    any_runtime: bool = False,
) -> pd.DataFrame:
    """The chosen machines side by side: per machine its largest series (``split_series``: one
    protocol on one machine, never a mix), joined with the reference like ``compare_frame``,
    measured rows only, stacked in the order chosen. ``machine`` says whose each row is."""
    measurements = list(measurements)
    frames = []
    for machine in chosen:
        series = split_series(of_machines(measurements, [machine]), any_runtime=any_runtime)
        if not series:
            continue
        frame = compare_frame(reference, series[0][1], any_runtime=any_runtime)
        frames.append(frame[frame["latency_ms"].notna()])
    if not frames:
        return compare_frame(reference, [], any_runtime=any_runtime).iloc[0:0]
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- your own data

#: Columns ``own_accuracy_reference`` adds: an evaluation on the user's labelled folder
#: (``python -m zoo evaluate``) and what it was measured on.
OWN_DATA_COLUMNS: tuple[str, ...] = (
    "own_top1_pct",
    "own_top5_pct",
    "own_images",
    "own_folder",
    "own_fingerprint",
    "own_weights",
    "own_evaluated_at",
)
#: The accuracy column the compare chart plots for "top-1 on your data".
OWN_TOP1 = "own_top1_pct"


def evaluation_sets(evaluations: Iterable[Mapping[str, object]]) -> list[tuple[str, str]]:
    """The data sets evaluated, as (fingerprint, label): the one with the most models first,
    then the most recent. The label names the folder, the image count and the models.

    >>> evaluation_sets([{"data_fingerprint": "ab12", "data_dir": "/photos", "model": "m",
    ...                   "images_evaluated": 40, "evaluated_at": "2026"}])
    [('ab12', '/photos: 40 images, 1 model')]
    """
    groups: dict[str, list[Mapping[str, object]]] = {}
    for e in evaluations:
        groups.setdefault(str(e.get("data_fingerprint")), []).append(e)

    def rank(item: tuple[str, list[Mapping[str, object]]]) -> tuple[int, str]:
        rows = item[1]
        return len({r.get("model") for r in rows}), max(str(r.get("evaluated_at")) for r in rows)

    out = []
    for fingerprint, rows in sorted(groups.items(), key=rank, reverse=True):
        models = len({r.get("model") for r in rows})
        label = (
            f"{rows[-1].get('data_dir')}: {rows[-1].get('images_evaluated')} images, "
            f"{models} model{'s' if models > 1 else ''}"
        )
        out.append((fingerprint, label))
    return out


def own_accuracy_reference(
    reference: pd.DataFrame, evaluations: Iterable[Mapping[str, object]], fingerprint: str
) -> pd.DataFrame:
    """``reference`` with the accuracy on one evaluated folder (``OWN_DATA_COLUMNS``), for the
    chart's "top-1 on your data" choice. Evaluations are ``Evaluation.to_dict()`` records.

    A chart model with an evaluation gets its ``own_*`` values, and its latency is then
    wanted at the evaluated input size (``resolution_px``). An evaluated model the chart does
    not list (an EfficientNet-Lite, say) gets a row of its own, without a published accuracy.
    The newest evaluation of a model on that folder wins.
    """
    latest: dict[str, Mapping[str, object]] = {}
    for e in evaluations:
        if str(e.get("data_fingerprint")) != fingerprint or e.get("top1_pct") is None:
            continue
        model = str(e.get("model", "")).partition(".")[0]
        old = latest.get(model)
        if old is None or str(e.get("evaluated_at")) >= str(old.get("evaluated_at")):
            latest[model] = e
    frame = reference.copy()
    for column in OWN_DATA_COLUMNS:
        frame[column] = None
    view = str(frame["view"].iloc[0]) if len(frame) else ""
    extra = []
    for model, e in latest.items():
        own = {
            "own_top1_pct": _float(e.get("top1_pct")),
            "own_top5_pct": _float(e.get("top5_pct")),
            "own_images": e.get("images_evaluated"),
            "own_folder": e.get("data_dir"),
            "own_fingerprint": fingerprint,
            "own_weights": e.get("weights"),
            "own_evaluated_at": e.get("evaluated_at"),
        }
        px = e.get("input_px")
        rows = frame.index[frame["model"] == model]
        if len(rows):
            for column, value in own.items():
                frame.loc[rows, column] = value
            frame.loc[rows, "resolution_px"] = px
            continue
        params = _float(e.get("params"))
        extra.append(
            {
                "model": model,
                "family": data.family_label(model),
                "training_data": accuracy.training_data_of(str(e.get("model"))),
                "accuracy_source": "your data (zoo evaluate)",
                "checkpoint": str(e.get("model")),
                "recipe": "",
                "eval_px": px,
                "resolution_px": px,
                "same_network": True,
                "loadable_here": True,
                "params_m": None if params is None else params / 1e6,
                "view": view,
                **own,
            }
        )
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    frame["eval_px"] = frame["eval_px"].astype("Int64")
    frame["resolution_px"] = frame["resolution_px"].astype("int64")
    return frame


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN → None


def published_gpu_frame(reference: pd.DataFrame) -> pd.DataFrame:
    """timm's published RTX 4090 throughput for the reference models, as ms per image.

    ``1000 / throughput_ips`` is time per image *within a large batch* (AMP, batch up to 1024),
    not batch-1 latency: the page labels the series that way.
    """
    gpu = data.load_frame("timm_benchmark_gpu")
    rows = []
    for r in reference.itertuples():
        candidates = gpu[gpu["arch"] == r.model]
        if candidates.empty:
            continue
        exact = candidates[candidates["resolution_px"] == r.resolution_px]
        row = (
            exact.iloc[0]
            if not exact.empty
            else candidates.iloc[
                (candidates["resolution_px"] - r.resolution_px).abs().argsort().iloc[0]
            ]
        )
        rows.append(
            {
                "model": r.model,
                "family": r.family,
                "top1_pct": r.top1_pct,
                "ms_per_image": 1000.0 / float(row["throughput_ips"]),
                "throughput_ips": float(row["throughput_ips"]),
                "batch_size": int(row["batch_size"]),
                "resolution_px": int(row["resolution_px"]),
                "device": str(row["device"]),
                "precision": str(row["precision"]),
                "source": str(row["source"]),
            }
        )
    return pd.DataFrame(rows)


def pareto_mask(x: Sequence[float], y: Sequence[float]) -> list[bool]:
    """True for points no other point beats on both axes (lower x and higher y).

    >>> pareto_mask([1, 2, 3, 2.5], [70, 80, 79, 81])
    [True, True, False, True]
    """
    points = list(zip(x, y, strict=True))
    mask = []
    for i, (xi, yi) in enumerate(points):
        dominated = any(
            (xj <= xi and yj >= yi) and (xj < xi or yj > yi)
            for j, (xj, yj) in enumerate(points)
            if j != i
        )
        mask.append(not dominated)
    return mask


__all__ = [
    "ACCURACY_VIEW_PARAM",
    "COMPARE_COLUMNS",
    "OWN_DATA_COLUMNS",
    "OWN_TOP1",
    "REFERENCE_COLUMNS",
    "accuracy_view_from_query",
    "compare_frame",
    "equal_cost_frame",
    "evaluation_sets",
    "formula_vs_official_frame",
    "own_accuracy_reference",
    "pareto_mask",
    "BEST_RUNTIME",
    "MACHINE_COLUMN",
    "device_choices",
    "for_runtime",
    "machine_of",
    "machines",
    "of_machines",
    "overlay_frame",
    "runtime_choices",
    "protocol_label",
    "series_key",
    "split_series",
    "published_gpu_frame",
    "reference_frame",
    "stage_frame",
    "table7_frame",
]
