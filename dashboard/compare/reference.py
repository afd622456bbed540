"""The compare chart's rows in one accuracy view (``data.accuracy``): each architecture's
published top-1 with its source, and the cost of the network the zoo times at that input size;
the view as the URL asks for it; timm's published GPU throughput for the overlay."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

import data
from dashboard.explorer.state import MAX_VALUE_CHARS
from data import accuracy
from explorer import (
    PUBLISHED_VARIANTS,
    from_variant,
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


PROVENANCE_COLUMNS = ("top1_source", "top1_source_url", "top1_retrieved", "view")


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
        gmacs, macs_source = explorer_gmacs(arch, px)
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


def resolutions_of(reference: pd.DataFrame) -> dict[str, int]:
    """{model: the input size the zoo measures it at} for the reference rows."""
    return {str(r.model): int(r.resolution_px) for r in reference.itertuples()}


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


def explorer_gmacs(arch: str, resolution_px: int) -> tuple[float | None, str | None]:
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


def to_float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN → None
