"""Which part of the network (stem, stage N, head) and which operator kind each module of a timm
model is, and which module a runtime's layer name belongs to.

Why by module: eager names an operator by the module that ran it, and the ONNX export names each
graph node by its module path (``/blocks/blocks.1/blocks.1.0/conv_dw/Conv``), which OpenVINO and
ONNX Runtime keep through fusion. A normalisation or activation counts with the convolution
before it (inference runtimes fuse them into it); a layer named by no module (a layout reorder)
counts with the layer that ran before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["Place", "module_places", "module_of_layer", "place_layers"]

#: Children holding the stages as an indexed sequence (EfficientNet, MobileNet, ConvNeXt …).
_STAGE_LISTS = ("blocks", "stages", "features")
_RESNET_STAGE = re.compile(r"layer(\d+)")
#: Modules computed with the convolution before them once an inference runtime fuses them.
_FOLLOWERS = re.compile(r"Norm|Act|ReLU|SiLU|Swish|GELU|Sigmoid|Hard|Identity|Dropout|DropPath")
_POOLS = re.compile(r"Pool")


@dataclass(frozen=True)
class Place:
    """Where a layer's time is counted."""

    part: str  # "stem", "stage 1" … , "head"
    kind: str  # one of explorer.operators.OPERATOR_KINDS


def _stage_of(name: str) -> int | None:
    first, _, rest = name.partition(".")
    if first in _STAGE_LISTS and rest:
        index = rest.partition(".")[0]
        return int(index) + 1 if index.isdigit() else None
    match = _RESNET_STAGE.fullmatch(first)
    return int(match.group(1)) if match else None


def _conv_kind(module: torch.nn.Module) -> str | None:
    import torch

    if isinstance(module, torch.nn.Linear):
        return "pointwise"
    if not isinstance(module, torch.nn.Conv2d):
        return None
    if module.groups > 1 and module.groups == module.in_channels:
        return "depthwise"
    return "pointwise" if tuple(module.kernel_size) == (1, 1) else "conv"


def module_places(model: torch.nn.Module) -> dict[str, Place]:
    """Every named module of ``model`` and where its time counts.

    >>> import timm
    >>> places = module_places(timm.create_model("efficientnet_b0"))
    >>> places["blocks.1.0.conv_dw"], places["blocks.1.0.bn2"].kind, places["conv_head"].part
    (Place(part='stage 2', kind='depthwise'), 'depthwise', 'head')
    """
    places: dict[str, Place] = {}
    seen_stage, last_kind, se_root = False, "other", None
    for name, module in model.named_modules():
        stage = _stage_of(name) if name else None
        if stage is not None:
            seen_stage = True
            part = f"stage {stage}"
        else:
            part = "head" if seen_stage and name else "stem"
        kind = _conv_kind(module)
        if se_root is not None and not name.startswith(se_root + "."):
            se_root = None
        if se_root is None and ("SqueezeExcite" in type(module).__name__ or name.endswith(".se")):
            se_root = name
        if se_root is not None:
            kind = "se"
        elif kind is not None:
            last_kind = kind
        elif _FOLLOWERS.search(type(module).__name__):
            kind = last_kind
        else:
            kind = "other"  # a block (its residual addition), a pool, a container
        if name:
            places[name] = Place(part, kind)
    return places


def module_of_layer(layer: str, places: dict[str, Place]) -> str | None:
    """The deepest module of ``places`` that ``layer`` names: itself, or the module path of an
    exported graph node (``/blocks/blocks.1/blocks.1.0/conv_dw/Conv/WithoutBiases``); None for a
    layer no module owns (eager's ``""``: the model's own code).

    >>> places = {"blocks": None, "blocks.1": None, "blocks.1.0": None, "blocks.1.0.conv_dw": None}
    >>> module_of_layer("/blocks/blocks.1/blocks.1.0/conv_dw/Conv/WithoutBiases", places)
    'blocks.1.0.conv_dw'
    >>> module_of_layer("ReorderOutput_token_12", places) is None
    True
    """
    if layer in places:
        return layer
    found = None
    for segment in layer.split("/")[1:]:
        candidates = (f"{found}.{segment}", segment) if found else (segment,)
        deeper = next((c for c in candidates if c in places), None)
        if deeper is None:
            break
        found = deeper
    return found


def place_layers(
    layers: list[tuple[str, float]], places: dict[str, Place]
) -> list[tuple[Place, float, bool]]:
    """Each (layer, ms) as (place, ms, named): a layer no module owns takes the place of the
    layer before it (the first ones: of the first owned layer), ``named`` False."""
    owned = [module_of_layer(name, places) for name, _ in layers]
    first = next((places[m] for m in owned if m is not None), Place("stem", "other"))
    placed, previous = [], first
    for (_, ms), module in zip(layers, owned, strict=True):
        if module is not None:
            previous = places[module]
        placed.append((previous, ms, module is not None))
    return placed
