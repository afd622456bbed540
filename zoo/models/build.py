"""Build the PyTorch model a ``ModelSpec`` names, with random weights: the only place that turns
a spec into torch objects.

EfficientNets go through timm's EfficientNet builder (``_gen_efficientnet``, a private API: timm
is pinned), which scales the B0 block table by width and depth before any layer exists, exactly
as the explorer does (Tan & Le 2019, section 3.3); ``zoo.weights`` loads ImageNet weights.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

__all__ = ["build_model", "check_runs", "settle_batchnorm"]


@functools.lru_cache(maxsize=256)
def _size_kwargs(model_name: str, resolution: int) -> tuple[tuple[str, int], ...]:
    """``img_size`` for a timm model made for one input size (ViTs, Swin, MLP-Mixers …) asked
    to run at another, when it cannot take that size as built but can be built for it (its
    position embeddings or windows are then made for that size; the weights are random anyway).
    Decided once per model and size by a forward on the ``meta`` device."""
    import timm
    import torch
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name, allow_unregistered=True)
    if cfg is None or not cfg.fixed_input_size or int(cfg.input_size[-1]) == resolution:
        return ()
    example = torch.empty(1, 3, resolution, resolution, device="meta")
    for kwargs in ({}, {"img_size": resolution}):
        try:
            with torch.device("meta"):
                model = timm.create_model(model_name, pretrained=False, **kwargs).eval()
            # The forward outside the device context: the input is on meta already, and the
            # context's per-operation dispatch would triple the time.
            with torch.inference_mode():
                model(example)
        except Exception:  # noqa: BLE001 - timm models assert their own input rules
            continue
        return tuple(kwargs.items())
    return ()  # neither runs: check_runs says why


def check_runs(model: torch.nn.Module, spec: ModelSpec) -> None:
    """One forward of a ``meta``-device model at the spec's resolution, or ``ZooError`` saying
    why this model cannot take that input (a fixed window, patch or grid size)."""
    import torch

    try:
        with torch.inference_mode():
            model(torch.empty(1, 3, spec.resolution, spec.resolution, device="meta"))
    except Exception as exc:  # noqa: BLE001 - timm models assert their own input rules
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ZooError(
            f"{spec.model} cannot run at {spec.resolution} px ({reason[:200]}); accepted: a "
            "resolution this architecture supports, e.g. its default (leave --resolution out)"
        ) from None


def build_model(spec: ModelSpec, *, device: str = "cpu") -> torch.nn.Module:
    """The model for ``spec`` in eval mode with random weights, its tensors on ``device``.

    ``device="meta"`` gives shapes without memory: enough to count parameters and MACs.
    """
    import torch

    with torch.device(device):
        if spec.kind == "timm":
            import timm

            kwargs = dict(_size_kwargs(spec.model, spec.resolution))
            model = timm.create_model(spec.model, pretrained=False, **kwargs)
        elif spec.variant is not None:
            import timm

            # The registered entrypoint is the same network as the generator below at the
            # variant's multipliers, and it carries the variant's pretrained_cfg.
            model = timm.create_model(f"efficientnet_{spec.variant}", pretrained=False)
        else:
            from timm.models.efficientnet import _gen_efficientnet

            model = _gen_efficientnet(
                "efficientnet_b0",
                channel_multiplier=spec.width_multiplier,
                depth_multiplier=spec.depth_multiplier,
                pretrained=False,
            )
    return model.eval()


def settle_batchnorm(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Set every BatchNorm's running statistics to those of ``images`` (N×3×r×r, on the model's
    device), so each normalises its activations to unit scale as trained weights would (in place,
    eval after).

    Why: with timm's initial statistics (mean 0, variance 1) the activations of a deep residual
    network with random weights grow block by block (efficientnetv2_rw_s on a photo: logits near
    5e4), and a runtime's reordered float sums then differ by far more than the 1e-3 the
    equivalence check accepts; huge or tiny values can also hit slow denormal paths. Settled on
    photos and noise, both stay near unit scale. Latency does not depend on it.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: one pass gives exactly the batch's statistics
    model.train()
    try:
        with torch.no_grad():
            model(images)
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()
