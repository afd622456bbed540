"""PyTorch eager: ``inference_mode``, channels_last when the protocol asks, autocast for bf16/fp16
on CUDA.

It runs the model as built, because it is the reference every other runtime's logits are checked
against (``zoo.runtimes.equivalence``). Settings: docs/benchmarks.md, 'Runtimes'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.records.protocol import Protocol
from zoo.runtimes.runner import Runner, RunnerSource, torch_runner

if TYPE_CHECKING:
    import torch

__all__ = ["build_runner", "profile_layers"]


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    """The model as it is (the caller put it on the device, in the protocol's memory format)."""
    assert source.model is not None, "eager runs the PyTorch model"
    runner = torch_runner(protocol.runtime, source.model, source.example, protocol)
    runner.info["compile_s"] = 0.0
    return runner


#: What marks a module's range in the profiler's events (never an operator's name).
_MODULE_MARK = "effscale.module:"


def _owners(model: torch.nn.Module, call: Callable[[], object]) -> list[tuple[str, str]]:
    """(operator name, innermost module running it) for each top-level operator of one call, in
    order: one call with every module wrapped in a profiler range ("" for the model's own code)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    names = {module: name for name, module in model.named_modules()}
    ranges: list[Any] = []

    def enter(module: torch.nn.Module, _args: object) -> None:
        ranges.append(record_function(_MODULE_MARK + names[module]))
        ranges[-1].__enter__()

    def leave(module: torch.nn.Module, _args: object, _out: object) -> None:
        ranges.pop().__exit__(None, None, None)

    hooks = [m.register_forward_pre_hook(enter) for m in names if names[m]]
    hooks += [m.register_forward_hook(leave) for m in names if names[m]]
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            call()
    finally:
        for hook in hooks:
            hook.remove()
    owners = []
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        parent = event.cpu_parent
        if event.name.startswith(_MODULE_MARK):
            continue
        if parent is None or parent.name.startswith(_MODULE_MARK):
            owner = parent.name[len(_MODULE_MARK) :] if parent is not None else ""
            owners.append((event.name, owner))
    return owners


def profile_layers(source: RunnerSource, protocol: Protocol, calls: int) -> list[tuple[str, float]]:
    """(module, ms per call) for each top-level operator under torch.profiler, in execution
    order. An operator's time runs from the end of the one before it, so the Python and dispatch
    between operators count where they are spent; the modules are found in one extra call whose
    modules are wrapped in profiler ranges (ranges cost time, so the timed calls have none)."""
    from torch.profiler import ProfilerActivity, profile

    assert source.model is not None, "eager profiles the PyTorch model"
    runner = torch_runner(protocol.runtime, source.model, source.example, protocol)
    for _ in range(3):
        runner.call()
    owners = _owners(source.model, runner.call)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            runner.call()
    top = sorted(
        (e for e in prof.events() if e.cpu_parent is None), key=lambda e: e.time_range.start
    )
    if len(top) != len(owners) * calls or any(
        e.name != owners[i % len(owners)][0] for i, e in enumerate(top)
    ):
        raise ZooError(
            f"eager ran other operators under the profiler than in the call that named their "
            f"modules ({len(top)} against {len(owners)} × {calls}): no profile; accepted: a model "
            "whose forward runs the same operators on every call"
        )
    totals = [0.0] * len(owners)
    for start in range(0, len(top), len(owners)):
        end = top[start].time_range.start
        for i, event in enumerate(top[start : start + len(owners)]):
            totals[i] += event.time_range.end - end
            end = event.time_range.end
    return [(owner, total / calls / 1000) for (_, owner), total in zip(owners, totals, strict=True)]
