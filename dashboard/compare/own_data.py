"""Top-1 on the user's own labelled folder (``python -m zoo evaluate``) as the chart's y axis: the
evaluated folders, and the reference rows with that folder's accuracies.

Each folder is its own choice, keyed by its data fingerprint, so results on different data are
never mixed on one chart. More: docs/evaluate.md, 'On the compare page'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

import data
from dashboard.compare.reference import explorer_gmacs, to_float
from data import accuracy

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
    reference: pd.DataFrame,
    evaluations: Iterable[Mapping[str, object]],
    fingerprint: str,
    precision: str = "fp32",
) -> pd.DataFrame:
    """``reference`` with the accuracy on one evaluated folder (``OWN_DATA_COLUMNS``), for the
    chart's "top-1 on your data" choice. Evaluations are ``Evaluation.to_dict()`` records.

    A chart model with an evaluation gets its ``own_*`` values, and its latency is then
    wanted at the evaluated input size (``resolution_px``). An evaluated model the chart does
    not list (an EfficientNet-Lite, say) gets a row of its own, without a published accuracy.
    The newest evaluation of a model on that folder at ``precision`` wins.
    """
    latest: dict[str, Mapping[str, object]] = {}
    for e in evaluations:
        if str(e.get("data_fingerprint")) != fingerprint or e.get("top1_pct") is None:
            continue
        if str(e.get("precision") or "fp32") != precision:
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
            "own_top1_pct": to_float(e.get("top1_pct")),
            "own_top5_pct": to_float(e.get("top5_pct")),
            "own_images": e.get("images_evaluated"),
            "own_folder": e.get("data_dir"),
            "own_fingerprint": fingerprint,
            "own_weights": e.get("weights"),
            "own_evaluated_at": e.get("evaluated_at"),
        }
        px = e.get("input_px")
        rows = frame.index[frame["model"] == model]
        gmacs, macs_source = _gmacs_at(model, px)
        if len(rows):
            for column, value in own.items():
                frame.loc[rows, column] = value
            if px != frame.loc[rows[0], "resolution_px"]:  # the cost at the evaluated size
                frame.loc[rows, ["gmacs", "macs_source"]] = [gmacs, macs_source]
            frame.loc[rows, "resolution_px"] = px
            continue
        params = to_float(e.get("params"))
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
                "gmacs": gmacs,
                "macs_source": macs_source,
                "view": view,
                **own,
            }
        )
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    frame["eval_px"] = frame["eval_px"].astype("Int64")
    frame["resolution_px"] = frame["resolution_px"].astype("int64")
    return frame


def _gmacs_at(model: str, px: object) -> tuple[float | None, str | None]:
    """The network's GMACs at the evaluated input size: the explorer's exact count for
    EfficientNet-B0–B7, else counted by the zoo (on the meta device: no memory, cached)."""
    try:
        size = int(px)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None, None
    gmacs, source = explorer_gmacs(model, size)
    if gmacs is not None:
        return gmacs, source
    try:
        from zoo import gmacs_of, spec_from_timm

        return gmacs_of(spec_from_timm(model, resolution=size)), "zoo (counted at this size)"
    except Exception:  # noqa: BLE001 - ZooError: not a model timm builds here; no MACs, no point
        return None, None


def own_data_title(points: pd.DataFrame) -> str:
    """The y-axis title of "top-1 on your data": which folder, how many images."""
    if points.empty:
        return "top-1 on your data (%)"
    return (
        f"top-1 on your data (%): {points['own_folder'].iloc[0]}, "
        f"{int(points['own_images'].max())} images"
    )


def own_legend_title(points: pd.DataFrame) -> str:
    if points.empty:
        return ""
    fingerprint = str(points["own_fingerprint"].iloc[0])[:12]
    return (
        f"<b>top-1 on your data</b>: {points['own_folder'].iloc[0]} "
        f"({int(points['own_images'].max())} images, fingerprint {fingerprint}); "
        "python -m zoo evaluate"
    )
