"""Exact parameter counts and ptflops MACs (multiply-accumulates; FLOPs = 2 × MACs), cross-checked
against the explorer's analytic count.

Why ``backend='aten'``, always passed: ptflops' default ``pytorch`` backend hooks modules by exact
type and undercounts timm's ``Conv2dSame`` and ``BatchNormAct2d`` (ptflops issue #59). ptflops
patches torch for the whole process while it counts, so every count holds one module-level lock
and runs on a fresh model on the ``meta`` device.
Details: docs/benchmarks.md, 'Parameters and MACs'.
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.models.build import build_model
from zoo.models.spec import ModelSpec, network_for

if TYPE_CHECKING:
    import torch

__all__ = ["MACS_BACKEND", "MACS_TOLERANCE", "Complexity", "count_complexity", "ptflops_macs"]

MACS_BACKEND = "aten"
#: Largest relative gap allowed between ptflops and the explorer's analytic MACs.
MACS_TOLERANCE = 0.01

_PTFLOPS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Complexity:
    params: int  # exact: the sum of every parameter tensor's element count
    macs: int  # ptflops, batch 1, at the spec's resolution
    backend: str  # ptflops backend that counted ``macs``
    ptflops_version: str
    explorer_macs: int | None  # the analytic count, for EfficientNets
    explorer_params: int | None

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def flops(self) -> int:
        return 2 * self.macs


def count_complexity(spec: ModelSpec) -> Complexity:
    """Params and MACs of ``spec``; for EfficientNets, raise ``ZooError`` if ptflops and the
    explorer disagree (params must be equal, MACs within ``MACS_TOLERANCE``).

    >>> from zoo.models.spec import spec_from_variant
    >>> c = count_complexity(spec_from_variant("b0"))
    >>> c.params, c.backend, abs(c.macs - c.explorer_macs) / c.explorer_macs < 0.01
    (5288548, 'aten', True)
    """
    return _count_cached(spec)


def ptflops_macs(model: torch.nn.Module, resolution: int) -> int:
    """ptflops' count (aten backend) of one forward of ``model`` on a 3×r×r image.

    Not under ``torch.inference_mode()``: ptflops' aten backend then counts 0 MACs. Raises
    ``ZooError`` with ptflops' own last line when the forward fails.
    """
    import ptflops

    captured = io.StringIO()
    with _PTFLOPS_LOCK, contextlib.redirect_stderr(captured):
        # ptflops prints a traceback and returns (None, None) when the forward fails.
        macs, _ = ptflops.get_model_complexity_info(
            model,
            (3, resolution, resolution),
            as_strings=False,
            print_per_layer_stat=False,
            backend=MACS_BACKEND,
            ost=io.StringIO(),
        )
    if macs is None:
        detail = captured.getvalue().strip().splitlines()
        reason = detail[-1] if detail else "no reason given"
        raise ZooError(f"ptflops ({MACS_BACKEND} backend) could not count it: {reason}")
    return int(macs)


@functools.lru_cache(maxsize=256)
def _count_cached(spec: ModelSpec) -> Complexity:
    model = build_model(spec, device="meta")
    params = sum(p.numel() for p in model.parameters())
    try:
        macs = ptflops_macs(model, spec.resolution)
    except ZooError as exc:
        raise ZooError(f"{spec.model} at {spec.resolution}px: {exc}") from None
    result = Complexity(
        params=int(params),
        macs=int(macs),
        backend=MACS_BACKEND,
        ptflops_version=version("ptflops"),
        explorer_macs=None,
        explorer_params=None,
    )
    net = network_for(spec)
    if net is None:
        return result
    gap = abs(result.macs - net.macs) / net.macs
    if net.params != result.params or gap > MACS_TOLERANCE:
        raise ZooError(
            f"{spec.model} at {spec.resolution}px: the built model does not match the explorer "
            f"(params {result.params:,} vs {net.params:,}; MACs {result.macs:,} vs "
            f"{net.macs:,}, {gap:.2%} apart; accepted: equal params, MACs within "
            f"{MACS_TOLERANCE:.0%})"
        )
    return Complexity(
        params=result.params,
        macs=result.macs,
        backend=result.backend,
        ptflops_version=result.ptflops_version,
        explorer_macs=net.macs,
        explorer_params=net.params,
    )
