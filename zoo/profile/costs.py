"""What each (part, operator kind) of a network computes and moves: MACs and bytes, per image.

An explorer configuration takes its exact counts from ``explorer.operators`` (one home for them);
a timm peer is counted from its convolutions and linear layers on the ``meta`` device (shapes,
no memory), so its pools, additions and gating multiplies are left out (stated in the profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.operators import BYTES_PER_ELEMENT, operator_costs
from zoo.models.build import build_model
from zoo.models.spec import ModelSpec, network_for
from zoo.profile.layers import module_places

if TYPE_CHECKING:
    import torch

__all__ = ["COUNTED", "part_costs"]

#: What the counts cover, by where they come from.
COUNTED = {
    "explorer": "every operator (explorer.operators: convolutions, SE, additions, pooling)",
    "modules": "convolutions and linear layers only (counted from the model's modules)",
}


def _module_costs(model: torch.nn.Module, spec: ModelSpec) -> dict[tuple[str, str], list[int]]:
    import torch

    places = module_places(model)
    names = {module: name for name, module in model.named_modules()}
    costs: dict[tuple[str, str], list[int]] = {}

    def count(module: torch.nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        weights = sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            macs = out.numel() * (module.in_channels // module.groups) * kh * kw
        else:
            macs = out.numel() * module.in_features
        place = places[names[module]]
        row = costs.setdefault((place.part, place.kind), [0, 0, 0])
        row[0] += macs
        row[1] += weights
        row[2] += args[0].numel() + out.numel()

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    ]
    try:
        with torch.no_grad():
            model(torch.empty(1, 3, spec.resolution, spec.resolution, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return costs


def part_costs(
    spec: ModelSpec, precision: str
) -> tuple[dict[tuple[str, str], tuple[int, int]], str]:
    """{(part, kind): (MACs, bytes moved)} per image at ``precision``'s element size, and which
    of ``COUNTED`` the counts cover."""
    size = BYTES_PER_ELEMENT["int8" if precision.startswith("int8") else precision]
    network = network_for(spec)
    if network is not None:
        return {
            (c.part, c.kind): (c.macs, c.bytes_moved(precision)) for c in operator_costs(network)
        }, "explorer"
    rows = _module_costs(build_model(spec, device="meta"), spec)
    return {key: (macs, size * (w + a)) for key, (macs, w, a) in rows.items()}, "modules"
