"""What to build: a ``ModelSpec`` for anything the explorer describes (a variant, φ with α, β,
γ, explicit width/depth/resolution) or a timm model by name, validated at the boundary.

A plain, hashable record, so the store, the queue and the dashboard carry it without torch;
``zoo.models.build`` turns it into a network.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, replace
from typing import Literal

import explorer
from data import family_key
from data.accuracy import CHART_ARCHS
from explorer import (
    BASE_RESOLUTION_PX,
    MAX_RESOLUTION_PX,
    MIN_RESOLUTION_PX,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    ScaledNetwork,
    ScalingError,
    official_variant_names,
)
from zoo.errors import ZooError

__all__ = [
    "PEER_MODELS",
    "ModelKind",
    "ModelSpec",
    "check_timm_name",
    "network_for",
    "spec_for_network",
    "spec_from_name",
    "spec_from_multipliers",
    "spec_from_phi",
    "spec_from_timm",
    "spec_from_variant",
]

ModelKind = Literal["efficientnet", "timm"]

#: Peer models (timm names) of the latency–accuracy chart: its architectures other than
#: EfficientNet-B0–B7 (``data.accuracy.CHART_ARCHS`` is the one list). Any other timm name is
#: accepted by ``spec_from_timm`` too.
PEER_MODELS: tuple[str, ...] = tuple(
    arch for arch in CHART_ARCHS if family_key(arch) not in ("efficientnet", "tf_efficientnet")
)


#: timm's own default input size (``PretrainedCfg.input_size``) for a model without a config.
_TIMM_DEFAULT_INPUT_PX = 224


@dataclass(frozen=True)
class ModelSpec:
    """What to build: an EfficientNet the explorer describes, or a timm model by name.

    ``model`` is a canonical id: the timm name for official variants and peers
    (``efficientnet_b3``, ``resnet50``), ``efficientnet_phi2.5_a1.2_b1.1_g1.15`` for a compound
    coefficient and ``efficientnet_w1.2_d1.4`` for explicit multipliers (the resolution is a field
    of its own). Together with ``resolution`` it identifies the network exactly.
    """

    model: str
    kind: ModelKind
    resolution: int  # input pixels (square)
    width_multiplier: float | None  # None for timm peers
    depth_multiplier: float | None
    variant: str | None  # "b0" … "l2" for official EfficientNets
    phi: float | None
    alpha: float | None
    beta: float | None
    gamma: float | None
    family: str  # the family key (``data.families``): "efficientnet", "resnet", …

    @property
    def label(self) -> str:
        return f"{self.model} @{self.resolution}px"


def _num(value: float) -> str:
    # Ten significant digits: distinct configurations get distinct ids, and 1.1 stays "1.1".
    return format(float(value), ".10g")


def _check_resolution(resolution: object) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise ZooError(f"resolution must be a whole number of pixels, got {resolution!r}")
    if not MIN_RESOLUTION_PX <= resolution <= MAX_RESOLUTION_PX:
        raise ZooError(
            f"resolution {resolution} px is out of range: accepted {MIN_RESOLUTION_PX} to "
            f"{MAX_RESOLUTION_PX} px"
        )
    return resolution


def _from_network(model: str, net: ScaledNetwork) -> ModelSpec:
    return ModelSpec(
        model=model,
        kind="efficientnet",
        resolution=net.resolution,
        width_multiplier=net.width_multiplier,
        depth_multiplier=net.depth_multiplier,
        variant=net.variant,
        phi=net.phi,
        alpha=net.alpha,
        beta=net.beta,
        gamma=net.gamma,
        family=family_key("efficientnet"),
    )


def spec_from_variant(name: str, resolution: int | None = None) -> ModelSpec:
    """An official EfficientNet (``b0`` … ``b7``, ``b8``, ``l2``; ``efficientnet_b3`` also works),
    at its published resolution unless ``resolution`` is given.

    >>> spec = spec_from_variant("B3")
    >>> spec.model, spec.resolution, spec.width_multiplier, spec.depth_multiplier
    ('efficientnet_b3', 300, 1.2, 1.4)
    """
    try:
        net = explorer.from_variant(name)
    except ScalingError as exc:
        raise ZooError(str(exc)) from None
    spec = _from_network(f"efficientnet_{net.variant}", net)
    if resolution is not None and resolution != spec.resolution:
        spec = replace(spec, resolution=_check_resolution(resolution))
    return spec


def spec_from_phi(
    phi: float, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA
) -> ModelSpec:
    """The EfficientNet for compound coefficient φ with depth α^φ, width β^φ, resolution 224·γ^φ.

    >>> spec_from_phi(2.5).model
    'efficientnet_phi2.5_a1.2_b1.1_g1.15'
    """
    try:
        net = explorer.from_phi(phi, alpha, beta, gamma)
    except ScalingError as exc:
        raise ZooError(str(exc)) from None
    model = (
        f"efficientnet_phi{_num(net.phi)}_a{_num(net.alpha)}_b{_num(net.beta)}_g{_num(net.gamma)}"
    )
    return _from_network(model, net)


def spec_from_multipliers(
    width: float, depth: float, resolution: int = BASE_RESOLUTION_PX
) -> ModelSpec:
    """An EfficientNet with explicit width and depth multipliers at ``resolution`` pixels.

    >>> spec = spec_from_multipliers(1.2, 1.4, 300)
    >>> spec.model, spec.resolution
    ('efficientnet_w1.2_d1.4', 300)
    """
    try:
        net = explorer.from_multipliers(width, depth, _check_resolution(resolution))
    except ScalingError as exc:
        raise ZooError(str(exc)) from None
    return _from_network(
        f"efficientnet_w{_num(net.width_multiplier)}_d{_num(net.depth_multiplier)}", net
    )


@functools.lru_cache(maxsize=1)
def _timm_model_names() -> tuple[str, ...]:
    import timm

    return tuple(timm.list_models())


def check_timm_name(name: str) -> tuple[str, str]:
    """``(architecture, tag)`` of a timm model name (``resnet50``, ``resnet50.a1_in1k``).

    The one check of a timm name: an unknown architecture raises ``ZooError`` suggesting close
    matches from ``timm.list_models()``; an unknown pretrained tag lists the accepted tags.
    """
    if not isinstance(name, str) or not name.strip():
        raise ZooError(f"model must be a timm model name such as 'resnet50', got {name!r}")
    arch, _, tag = name.strip().partition(".")
    names = _timm_model_names()
    if arch not in names:
        close = difflib.get_close_matches(arch.lower(), names, n=5, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ZooError(
            f"unknown model {name!r}: {hint}accepted any of the {len(names)} names in "
            f"timm.list_models(), e.g. {', '.join(PEER_MODELS[:4])}"
        )
    if tag:
        import timm

        tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
        if tag not in tags:
            accepted = ", ".join(tags) if tags else "none"
            raise ZooError(f"unknown pretrained tag {tag!r} for {arch} (accepted tags: {accepted})")
    return arch, tag


def spec_from_timm(name: str, resolution: int | None = None) -> ModelSpec:
    """A timm model by name (``resnet50``, ``tf_efficientnet_b3``, ``arch.tag`` …), at the test
    resolution of its pretrained config unless ``resolution`` is given.

    ``efficientnet_b0`` … ``efficientnet_b8`` and ``efficientnet_l2`` are the explorer's official
    variants (at the paper's resolution by default), so their structure is cross-checked.
    Unknown names raise ``ZooError`` listing close matches from ``timm.list_models()``.
    """
    if isinstance(name, str) and "." not in name:
        variant = name.strip().removeprefix("efficientnet_")
        if name.strip().startswith("efficientnet_") and variant in official_variant_names():
            return spec_from_variant(variant, resolution)
    arch, _ = check_timm_name(name)
    key = name.strip()
    if resolution is None:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(key, allow_unregistered=True)
        if cfg is None:
            resolution = _TIMM_DEFAULT_INPUT_PX
        else:
            size = cfg.test_input_size or cfg.input_size
            resolution = int(size[-1])
    return ModelSpec(
        model=arch,
        kind="timm",
        resolution=_check_resolution(resolution),
        width_multiplier=None,
        depth_multiplier=None,
        variant=None,
        phi=None,
        alpha=None,
        beta=None,
        gamma=None,
        family=family_key(arch),
    )


def network_for(spec: ModelSpec) -> ScaledNetwork | None:
    """The explorer's exact description of ``spec`` (``None`` for timm peers).

    >>> network_for(spec_from_variant("b0")).params
    5288548
    """
    if spec.kind != "efficientnet":
        return None
    assert spec.width_multiplier is not None and spec.depth_multiplier is not None
    if spec.phi is not None:
        return explorer.from_phi(spec.phi, spec.alpha, spec.beta, spec.gamma)
    if spec.variant is not None:
        net = explorer.from_variant(spec.variant)
        if net.resolution == spec.resolution:
            return net
    return explorer.from_multipliers(spec.width_multiplier, spec.depth_multiplier, spec.resolution)


_VARIANT_NAME = re.compile(r"efficientnet_(b[0-8]|l2)")
_NUMBER = r"[-+0-9.e]+"
_PHI_NAME = re.compile(
    rf"efficientnet_phi(?P<phi>{_NUMBER})_a(?P<a>{_NUMBER})_b(?P<b>{_NUMBER})_g(?P<g>{_NUMBER})"
)
_MULTIPLIERS_NAME = re.compile(rf"efficientnet_w(?P<w>{_NUMBER})_d(?P<d>{_NUMBER})")


def spec_from_name(model: str, resolution: int) -> ModelSpec | None:
    """The EfficientNet spec a stored model name was made from (the names above), at
    ``resolution``; None for a timm name or a name this module does not make. Names keep ten
    significant digits, so the spec's name, not every float, round-trips.

    >>> spec = spec_from_phi(-0.5)
    >>> spec_from_name(spec.model, spec.resolution) == spec
    True
    """
    try:
        if match := _VARIANT_NAME.fullmatch(model):
            return spec_from_variant(match.group(1), resolution)
        if match := _PHI_NAME.fullmatch(model):
            spec = spec_from_phi(*(float(match.group(k)) for k in ("phi", "a", "b", "g")))
            return spec if spec.resolution == resolution else None
        if match := _MULTIPLIERS_NAME.fullmatch(model):
            return spec_from_multipliers(float(match["w"]), float(match["d"]), resolution)
    except (ZooError, ValueError):
        return None
    return None


def spec_for_network(net: ScaledNetwork) -> ModelSpec:
    """The spec naming ``net`` as the explorer made it: by φ and α, β, γ when it has them, else
    by its multipliers and resolution."""
    if net.phi is not None:
        return spec_from_phi(net.phi, net.alpha, net.beta, net.gamma)
    return spec_from_multipliers(net.width_multiplier, net.depth_multiplier, net.resolution)
