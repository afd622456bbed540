"""Read a built timm EfficientNet's structure back from the model itself (golden values for the
explorer come from the built model, never from the explorer)."""

from __future__ import annotations


def model_structure(model) -> tuple[int, list[int], list[int], int, int]:
    """(stem channels, each stage's output channels, each stage's repeats, head channels,
    parameter count) of a timm EfficientNet."""
    outs = [
        stage[-1].conv_pwl.out_channels
        if hasattr(stage[-1], "conv_pwl")
        else stage[-1].conv_pw.out_channels
        for stage in model.blocks
    ]
    repeats = [len(stage) for stage in model.blocks]
    params = sum(p.numel() for p in model.parameters())
    return model.conv_stem.out_channels, outs, repeats, model.num_features, params
