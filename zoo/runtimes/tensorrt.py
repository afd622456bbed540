"""TensorRT through torch-tensorrt (dynamo frontend) on CUDA: an engine built for the example's
shape in the protocol's precision.

An engine takes minutes to build, so it is saved in the artefact cache (``zoo.runtimes.artifacts``)
and loaded from there next time. Settings: docs/benchmarks.md, 'Runtimes'.
"""

from __future__ import annotations

import time
from pathlib import Path

from zoo.records.environment import package_version
from zoo.records.protocol import Protocol
from zoo.runtimes.artifacts import artifact_key, cached_file
from zoo.runtimes.runner import Runner, RunnerSource, torch_runner

__all__ = ["build_runner"]


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    import torch
    import torch_tensorrt

    model, example = source.model, source.example
    assert model is not None, "TensorRT compiles the PyTorch model"
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    key = artifact_key(
        **source.key_parts,
        kind="tensorrt",
        input_shape=list(example.shape),
        precision=protocol.precision,
        device=torch.cuda.get_device_name(example.device),
        torch_tensorrt=package_version("torch-tensorrt"),
    )

    def build(path: Path) -> None:
        compiled = torch_tensorrt.compile(
            model, ir="dynamo", inputs=[example], enabled_precisions={dtype[protocol.precision]}
        )
        torch_tensorrt.save(compiled, str(path), inputs=[example])

    started = time.perf_counter()
    artifact = cached_file("tensorrt", key, "engine.ep", build, description=source.description)
    engine = torch_tensorrt.load(str(artifact.path)).module()
    compile_s = time.perf_counter() - started
    runner = torch_runner(protocol.runtime, engine, example, protocol, with_autocast=False)
    runner.info.update(
        runtime_version=package_version("torch-tensorrt"),
        compile_s=compile_s,
        artifact_cached=artifact.cached,
    )
    return runner
