"""PyTorch eager: ``inference_mode``, channels_last when the protocol asks, autocast for bf16/fp16
on CUDA.

It runs the model as built, because it is the reference every other runtime's logits are checked
against (``zoo.runtimes.equivalence``). Settings: docs/benchmarks.md, 'Runtimes'.
"""

from __future__ import annotations

from zoo.records.protocol import Protocol
from zoo.runtimes.runner import Runner, RunnerSource, torch_runner

__all__ = ["build_runner"]


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    """The model as it is (the caller put it on the device, in the protocol's memory format)."""
    assert source.model is not None, "eager runs the PyTorch model"
    runner = torch_runner(protocol.runtime, source.model, source.example, protocol)
    runner.info["compile_s"] = 0.0
    return runner
