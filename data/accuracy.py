"""Every published ImageNet accuracy in ``data/`` as one long table, and the views the chart offers.

Why: a latency–accuracy chart that takes each architecture's number from wherever one is at hand
compares training data and recipes, not architectures. The compare chart once drew timm's
ImageNet-12k pre-trained EfficientNet-B5 (85.9 %) above the paper's B6 and B7 (84.0, 84.3), next
to three different timm recipes for B0–B4, and one Pareto front across all of them. Here every
accuracy row says where its number comes from, which checkpoint, which training data (read from
the checkpoint's name by one rule, :func:`training_data_of`), which recipe, at what input size it
was evaluated, at what size the zoo measures its latency, whether it is the very network the zoo
measures, and whether its weights load offline here. A :class:`View` keeps at most one row per
chart architecture by a stated rule, and only the "best available" view admits extra training
data.

Nothing is copied: each :class:`AccuracyPoint` is built from one row of a source table
(``paper_table2``, ``timm_imagenet``, ``torchvision_weights``, ``keras_applications``) and keeps
that row's ``source``, ``source_url`` and ``retrieved``. ``data/README.md`` states the rules.

Standard library only, and nothing is read at import time (the rows are built on first use).

>>> b3 = next(p for p in view_points("paper").points if p.arch == "efficientnet_b3")
>>> b3.top1_pct, b3.eval_px, b3.training_data, b3.same_network
(81.6, 300, 'ImageNet-1k only', False)
>>> training_data_of("efficientnet_b5.sw_in12k_ft_in1k")
'ImageNet-12k pre-training'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .schema import DataError, load_rows

__all__ = [
    "ACCURACY_SOURCES",
    "CHART_ARCHS",
    "DEFAULT_VIEW",
    "ESTIMATE_VIEW",
    "IMAGENET_12K",
    "IMAGENET_1K",
    "IMAGENET_21K",
    "INSTAGRAM",
    "JFT",
    "KERAS",
    "PAPER_V1_V3",
    "PAPER_V5",
    "TIMM",
    "TIMM_RECIPE_ORDER",
    "TORCHVISION",
    "TORCHVISION_ORDER",
    "TRAINING_DATA",
    "VIEWS",
    "Absence",
    "AccuracyPoint",
    "View",
    "ViewPoints",
    "all_points",
    "get_view",
    "official_px",
    "training_data_of",
    "view_points",
]

# --------------------------------------------------------------------------- training data

IMAGENET_1K = "ImageNet-1k only"
IMAGENET_12K = "ImageNet-12k pre-training"
IMAGENET_21K = "ImageNet-21k pre-training"
JFT = "JFT-300M extra data (Noisy Student)"
INSTAGRAM = "Instagram hashtag pre-training (SWAG)"
#: Every training-data label, ImageNet-1k only first; all but the first mean extra data.
TRAINING_DATA: tuple[str, ...] = (IMAGENET_1K, IMAGENET_12K, IMAGENET_21K, JFT, INSTAGRAM)


def training_data_of(checkpoint: str) -> str:
    """The training data a checkpoint's name says it used: the one rule (data/README.md).

    The lower-cased name is split into tokens at every character that is not a letter or digit:
    ``jft`` means JFT-300M extra data (Noisy Student, ``ns_jft_in1k``); ``in21k`` or ``in22k``
    ImageNet-21k pre-training; ``in12k`` ImageNet-12k pre-training (``sw_in12k_ft_in1k``);
    ``swag`` Instagram hashtag pre-training (torchvision's ``IMAGENET1K_SWAG_E2E_V1``). Any other
    name is ImageNet-1k only: timm's ``*_in1k`` tags, torchvision's ``IMAGENET1K_V1``/``V2``, the
    Keras ``imagenet`` weights and the paper's rows.

    >>> training_data_of("tf_efficientnet_b7.ns_jft_in1k")
    'JFT-300M extra data (Noisy Student)'
    >>> training_data_of("RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_E2E_V1")
    'Instagram hashtag pre-training (SWAG)'
    >>> training_data_of("efficientnet_b3.ra2_in1k")
    'ImageNet-1k only'
    """
    tokens = set(re.split(r"[^a-z0-9]+", checkpoint.lower()))
    if "jft" in tokens:
        return JFT
    if tokens & {"in21k", "in22k"}:
        return IMAGENET_21K
    if "in12k" in tokens:
        return IMAGENET_12K
    if "swag" in tokens:
        return INSTAGRAM
    return IMAGENET_1K


# --------------------------------------------------------------------------- sources

PAPER_V5 = "paper Table 2 (arXiv v5)"
PAPER_V1_V3 = "paper Table 2 (arXiv v1–v3)"
TIMM = "timm evaluation"
TORCHVISION = "torchvision weights metadata"
KERAS = "Keras Applications"
#: Where an accuracy comes from, in the order rows are listed (and ties are broken).
ACCURACY_SOURCES: tuple[str, ...] = (PAPER_V5, PAPER_V1_V3, TIMM, TORCHVISION, KERAS)
_SOURCE_FILE: dict[str, str] = {
    PAPER_V5: "paper_table2.csv",
    PAPER_V1_V3: "paper_table2.csv",
    TIMM: "timm_imagenet.csv",
    TORCHVISION: "torchvision_weights.csv",
    KERAS: "keras_applications.csv",
}
_PAPER_VERSIONS: dict[str, str] = {"v5": PAPER_V5, "v1-v3": PAPER_V1_V3}

#: The architectures the compare chart offers, in its order: EfficientNet-B0–B7 (timm's own
#: definition and the TF ports) and the peer models (``zoo.models.spec.PEER_MODELS`` is derived from
#: this list), ResNet-152 among them because the paper's Table 2 prints it.
CHART_ARCHS: tuple[str, ...] = (
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"tf_efficientnet_b{i}" for i in range(8)),
    "resnet50",
    "resnet152",
    "mobilenetv2_100",
    "mobilenetv3_large_100",
    "regnety_016",
    "regnety_032",
    "regnety_040",
    "convnext_tiny",
    "efficientnetv2_rw_s",
    "tf_efficientnetv2_s",
)


@dataclass(frozen=True)
class AccuracyPoint:
    """One published ImageNet-1k validation accuracy: what it was measured on, and its source.

    ``eval_px`` is the input size the accuracy was measured at (None where the source does not
    say); ``measure_px`` the size the zoo measures the latency of ``arch`` at: ``eval_px``, or,
    where the source states none, torchvision's evaluation crop for the same architecture (None
    when there is none either: such a row cannot be placed on the chart).
    """

    accuracy_source: str  # one of ACCURACY_SOURCES
    arch: str | None  # timm architecture the zoo builds and times; None: there is none (GPipe)
    checkpoint: str  # timm tag, torchvision weights, Keras application, or the paper's row
    training_data: str  # one of TRAINING_DATA: training_data_of(checkpoint)
    recipe: str  # timm tag after the dot, torchvision weights version, Keras weights, paper version
    eval_px: int | None
    measure_px: int | None
    top1_pct: float
    top5_pct: float | None
    params_m: float  # as the source prints it (Keras counts BatchNorm statistics too)
    source_gmacs: float | None  # the cost the source prints, in GMACs (paper, torchvision)
    same_network: bool  # measured on timm's ``arch`` itself (timm's own evaluation)
    loadable_here: bool  # ``arch`` is in data/offline_weights.csv
    source: str
    source_url: str
    retrieved: str

    @property
    def extra_data(self) -> bool:
        return self.training_data != IMAGENET_1K


_EFFICIENTNET = re.compile(r"(?:tf_)?efficientnet_(b[0-7])")


@functools.lru_cache(maxsize=1)
def _official_px() -> dict[str, int]:
    return {
        str(row["variant"]): int(row["resolution_px"])  # type: ignore[call-overload]
        for row in load_rows("efficientnet_coefficients")
    }


def official_px(arch: str | None) -> int | None:
    """The official input size of EfficientNet-B0–B7 (timm's or the TF port's name), else None.

    >>> official_px("tf_efficientnet_b3"), official_px("resnet50")
    (300, None)
    """
    match = _EFFICIENTNET.fullmatch(arch or "")
    return _official_px().get(match.group(1)) if match else None


def _provenance(row: Mapping[str, object]) -> dict[str, str]:
    return {key: str(row[key]) for key in ("source", "source_url", "retrieved")}


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _paper_recipe(model: str, version: str) -> str:
    if not model.startswith("EfficientNet-"):
        return f"as the paper prints it (arXiv {version})"
    if version == "v5":
        return "AutoAugment checkpoints (arXiv v5)"
    return f"original release (arXiv {version})"


def _rows(loadable: frozenset[str], crop_px: Mapping[str, int]) -> Iterator[AccuracyPoint]:
    def point(
        kind: str, arch: object, checkpoint: str, eval_px: int | None, **rest
    ) -> AccuracyPoint:
        name = None if arch is None else str(arch)
        measure = eval_px if eval_px is not None else crop_px.get(name or "")
        return AccuracyPoint(
            accuracy_source=kind,
            arch=name,
            checkpoint=checkpoint,
            training_data=training_data_of(checkpoint),
            eval_px=eval_px,
            measure_px=measure,
            loadable_here=name in loadable,
            **rest,
        )

    for row in load_rows("paper_table2"):
        model, version = str(row["model"]), str(row["arxiv_version"])
        yield point(
            _PAPER_VERSIONS[version],
            row["arch"],
            f"{model} (arXiv 1905.11946{version} Table 2)",
            official_px(row["arch"]),  # type: ignore[arg-type]
            recipe=_paper_recipe(model, version),
            top1_pct=float(row["top1_pct"]),  # type: ignore[arg-type]
            top5_pct=_float(row["top5_pct"]),
            params_m=float(row["params_m"]),  # type: ignore[arg-type]
            source_gmacs=_float(row["paper_flops_b"]),
            same_network=False,
            **_provenance(row),
        )
    for row in load_rows("timm_imagenet"):
        model = str(row["model"])
        yield point(
            TIMM,
            row["arch"],
            model,
            int(row["resolution_px"]),  # type: ignore[call-overload]
            recipe=model.partition(".")[2],
            top1_pct=float(row["top1_pct"]),  # type: ignore[arg-type]
            top5_pct=_float(row["top5_pct"]),
            params_m=float(row["params_m"]),  # type: ignore[arg-type]
            source_gmacs=None,
            same_network=True,
            **_provenance(row),
        )
    for row in load_rows("torchvision_weights"):
        weights = str(row["weights"])
        yield point(
            TORCHVISION,
            row["arch"],
            weights,
            int(row["crop_px"]),  # type: ignore[call-overload]
            recipe=weights.partition(".")[2],
            top1_pct=float(row["top1_pct"]),  # type: ignore[arg-type]
            top5_pct=_float(row["top5_pct"]),
            params_m=int(row["params"]) / 1e6,  # type: ignore[call-overload]
            source_gmacs=_float(row["gflops_macs"]),
            same_network=False,
            **_provenance(row),
        )
    for row in load_rows("keras_applications"):
        # Keras prints no input size; its EfficientNet-B0–B7 numbers are the paper's v5 ones,
        # measured at the official sizes.
        yield point(
            KERAS,
            row["arch"],
            f"keras.applications.{row['model']}(weights='imagenet')",
            official_px(str(row["arch"])),
            recipe="weights='imagenet'",
            top1_pct=float(row["top1_pct"]),  # type: ignore[arg-type]
            top5_pct=_float(row["top5_pct"]),
            params_m=float(row["params_m"]),  # type: ignore[arg-type]
            source_gmacs=None,
            same_network=False,
            **_provenance(row),
        )


def _torchvision_crop_px() -> dict[str, int]:
    """torchvision's evaluation crop per architecture, where all its weights agree on one."""
    crops: dict[str, set[int]] = {}
    for row in load_rows("torchvision_weights"):
        if row["arch"] is not None:
            crop_px = int(row["crop_px"])  # type: ignore[call-overload]
            crops.setdefault(str(row["arch"]), set()).add(crop_px)
    return {arch: next(iter(sizes)) for arch, sizes in crops.items() if len(sizes) == 1}


@functools.lru_cache(maxsize=1)
def all_points() -> tuple[AccuracyPoint, ...]:
    """Every accuracy row of every source table, in ``ACCURACY_SOURCES`` order (built once)."""
    loadable = frozenset(str(row["arch"]) for row in load_rows("offline_weights"))
    points = tuple(_rows(loadable, _torchvision_crop_px()))
    return tuple(sorted(points, key=lambda p: ACCURACY_SOURCES.index(p.accuracy_source)))


# --------------------------------------------------------------------------- views

#: timm recipe tags in the order the "timm, ImageNet-1k only" view prefers them: the ports of the
#: paper's AutoAugment checkpoints, the authors' own releases (TF, torchvision's classic ResNet,
#: pycls RegNets, Meta's ConvNeXt), then timm's first RandAugment trainings.
TIMM_RECIPE_ORDER: tuple[str, ...] = (
    "aa_in1k",
    "in1k",
    "tv_in1k",
    "pycls_in1k",
    "fb_in1k",
    "ra_in1k",
    "ra2_in1k",
)
#: torchvision weights in the order the "torchvision" view prefers them: the original ones first.
TORCHVISION_ORDER: tuple[str, ...] = ("IMAGENET1K_V1", "IMAGENET1K_V2")


def _index(order: tuple[str, ...], value: str) -> int:
    return order.index(value) if value in order else len(order)


@functools.lru_cache(maxsize=1)
def _timm_default_px() -> dict[str, int]:
    """Each timm checkpoint's default (train) input size: the smallest size timm reports it at
    (the larger one is its ``test_input_size``)."""
    sizes: dict[str, int] = {}
    for p in all_points():
        if p.accuracy_source == TIMM and p.eval_px is not None:
            sizes[p.checkpoint] = min(sizes.get(p.checkpoint, p.eval_px), p.eval_px)
    return sizes


def _at_default_px(point: AccuracyPoint) -> bool:
    return point.accuracy_source != TIMM or point.eval_px == _timm_default_px()[point.checkpoint]


def _any(point: AccuracyPoint) -> bool:
    return True


def _rank_paper(point: AccuracyPoint) -> tuple[float, ...]:
    return (ACCURACY_SOURCES.index(point.accuracy_source),)  # v5 before v1–v3


def _rank_timm(point: AccuracyPoint) -> tuple[float, ...]:
    official = official_px(point.arch)
    distance = abs(point.eval_px - official) if official and point.eval_px else 0
    return (_index(TIMM_RECIPE_ORDER, point.recipe), distance, point.top1_pct)


def _rank_torchvision(point: AccuracyPoint) -> tuple[float, ...]:
    return (_index(TORCHVISION_ORDER, point.recipe),)


def _rank_keras(point: AccuracyPoint) -> tuple[float, ...]:
    return ()  # one row per architecture


def _rank_best(point: AccuracyPoint) -> tuple[float, ...]:
    return (-point.top1_pct, point.measure_px or 0, ACCURACY_SOURCES.index(point.accuracy_source))


@dataclass(frozen=True)
class View:
    """A consistent set of accuracies for the chart: at most one row per architecture.

    ``key`` is the URL value (``?acc=paper``), ``label`` what the page shows, ``rule`` the
    selection in words (the page and ``data/README.md`` show it). ``admit`` and ``rank`` are that
    rule in code: among an architecture's rows from ``sources`` (ImageNet-1k only unless
    ``extra_data``) that have a size to measure at and pass ``admit``, the lowest ``rank`` wins.
    """

    key: str
    label: str
    sources: tuple[str, ...]
    extra_data: bool
    rule: str
    admit: Callable[[AccuracyPoint], bool]
    rank: Callable[[AccuracyPoint], tuple[float, ...]]


VIEWS: tuple[View, ...] = (
    View(
        "paper",
        "Paper (Table 2)",
        (PAPER_V5, PAPER_V1_V3),
        False,
        "The EfficientNet paper's own Table 2: B0–B7 from arXiv v5 (the AutoAugment checkpoints) "
        "at their official input sizes, drawn on timm's efficientnet_b0–b7, and the peers the "
        "paper prints (v1–v3 rows; input size not printed, measured at torchvision's 224 px "
        "crop). GPipe has no timm architecture and is not drawn.",
        _any,
        _rank_paper,
    ),
    View(
        "timm-in1k",
        "timm, ImageNet-1k only",
        (TIMM,),
        False,
        "timm's own ImageNet-1k evaluation, checkpoints trained on ImageNet-1k only, each at its "
        "default (train) input size. Per architecture the first recipe tag of "
        + ", ".join(TIMM_RECIPE_ORDER)
        + " (ports of the paper's AutoAugment checkpoints, the authors' releases, timm's first "
        "RandAugment trainings); otherwise the one evaluated closest to the official "
        "EfficientNet input size, then the lower top-1.",
        _at_default_px,
        _rank_timm,
    ),
    View(
        "torchvision",
        "torchvision",
        (TORCHVISION,),
        False,
        "torchvision's published accuracies for its ImageNet-1k-only weights, at its evaluation "
        "crop: " + " where it exists, else ".join(TORCHVISION_ORDER) + " (never SWAG).",
        _any,
        _rank_torchvision,
    ),
    View(
        "keras",
        "Keras",
        (KERAS,),
        False,
        "The Keras Applications table (ImageNet-1k weights). Its EfficientNetB0–B7 numbers are "
        "the paper's v5 ones, drawn at the official input sizes on timm's tf_efficientnet_b0–b7; "
        "rows whose input size Keras does not state are measured at torchvision's crop for the "
        "same architecture, or not drawn.",
        _any,
        _rank_keras,
    ),
    View(
        "best",
        "best available (any pre-training)",
        ACCURACY_SOURCES,
        True,
        "The highest top-1 in data/ for each architecture, from any source, at any evaluated "
        "input size and with any training data. Extra training data is named on every point: "
        "this view compares training data as much as architectures.",
        _any,
        _rank_best,
    ),
)
_VIEWS_BY_KEY: dict[str, View] = {view.key: view for view in VIEWS}
#: The view the compare page opens with: like for like, and the only one whose accuracies were
#: measured on the very networks the zoo times (see the README's "How to read the chart").
DEFAULT_VIEW = "timm-in1k"
#: The set the explorer's accuracy estimate is fitted on (its EfficientNet-B0–B7 rows).
ESTIMATE_VIEW = "paper"


def get_view(key: str) -> View:
    """The view called ``key``; an unknown key raises DataError naming the known ones."""
    try:
        return _VIEWS_BY_KEY[key]
    except KeyError:
        known = ", ".join(_VIEWS_BY_KEY)
        raise DataError(f"unknown accuracy view {key!r}; known views: {known}") from None


@dataclass(frozen=True)
class Absence:
    """A chart architecture (or a source row without one) that has no point in a view, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class ViewPoints:
    view: View
    points: tuple[AccuracyPoint, ...]  # at most one per architecture, in CHART_ARCHS order
    absent: tuple[Absence, ...]


@functools.lru_cache(maxsize=len(VIEWS))
def view_points(key: str) -> ViewPoints:
    """The chart's accuracy rows in view ``key``, and the architectures left without one.

    >>> [p.checkpoint for p in view_points("timm-in1k").points][:3]
    ['efficientnet_b0.ra_in1k', 'efficientnet_b1.ra4_e3600_r240_in1k', 'efficientnet_b2.ra_in1k']
    >>> [a.name for a in view_points("timm-in1k").absent]
    ['efficientnet_b5', 'efficientnet_b6', 'efficientnet_b7', 'resnet152']
    """
    view = get_view(key)
    by_arch: dict[str, list[AccuracyPoint]] = {}
    no_arch: list[AccuracyPoint] = []
    for point in all_points():
        if point.accuracy_source in view.sources:
            if point.arch is None:
                no_arch.append(point)
            else:
                by_arch.setdefault(point.arch, []).append(point)
    files = ", ".join(dict.fromkeys(_SOURCE_FILE[source] for source in view.sources))
    points: list[AccuracyPoint] = []
    absent: list[Absence] = []
    for arch in CHART_ARCHS:
        rows = by_arch.get(arch, [])
        admitted = [p for p in rows if view.extra_data or not p.extra_data]
        placed = [p for p in admitted if p.measure_px is not None and view.admit(p)]
        if placed:
            points.append(min(placed, key=view.rank))
        elif not rows:
            absent.append(Absence(arch, f"no row for it in {files}"))
        elif not admitted:
            names = ", ".join(dict.fromkeys(p.checkpoint for p in rows))
            absent.append(Absence(arch, f"only extra-data checkpoints ({names})"))
        else:
            absent.append(Absence(arch, "the source states no input size to measure it at"))
    for point in no_arch:
        absent.append(Absence(point.checkpoint, "no timm architecture to measure"))
    return ViewPoints(view, tuple(points), tuple(absent))
