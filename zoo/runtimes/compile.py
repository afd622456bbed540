"""``torch.compile`` (Inductor, default mode) as a runtime; the first call, the compile, is recorded
as ``compile_s``, apart from the latency.

Inductor's kernel cache lives in the artefact cache (``zoo.runtimes.artifacts``), so a second run
compiles in seconds. Settings: docs/benchmarks.md, 'Runtimes'.
"""

from __future__ import annotations

import logging
import os
import time

from zoo.records.protocol import Protocol
from zoo.records.runtimes import get_runtime
from zoo.runtimes.artifacts import runtime_cache_dir
from zoo.runtimes.runner import Runner, RunnerSource, torch_runner

__all__ = ["build_runner"]


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    import torch

    assert source.model is not None, "torch.compile compiles the PyTorch model"
    # Inductor reads its cache folder from the environment when it first needs it.
    cache = get_runtime(protocol.runtime).kernel_cache
    if cache is not None:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(runtime_cache_dir(cache)))
    # A CPU-only build says "No CUDA runtime is found" while compiling: noise, not a problem.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    runner = torch_runner(protocol.runtime, torch.compile(source.model), source.example, protocol)
    started = time.perf_counter()
    runner.call()
    runner.sync()
    runner.info["compile_s"] = time.perf_counter() - started
    return runner
