"""One model, several inference runtimes: each turned into the same small interface.

A ``Runner`` holds what a runtime needs to run the model on the protocol's input: ``call`` runs
one timed step on the prepared example, ``predict`` returns float32 logits for any batch of the
protocol's size (for the equivalence check), and ``info`` says what ran (the runtime's version,
the precision it reports, how long it took to compile or build). The settings per runtime, as
``docs/benchmarks.md`` states them:

* **eager**: PyTorch, ``inference_mode``, channels_last when the protocol asks, autocast for
  bf16/fp16 (CUDA);
* **compile**: ``torch.compile`` (Inductor, default mode), its kernel cache in the artefact cache
  so a second run reuses it; the first call (the compile) is ``compile_s``;
* **onnxruntime**: the cached ONNX export, CPU execution provider, ``intra_op_num_threads`` = the
  protocol's threads, one inter-op thread, all graph optimisations;
* **openvino**: the same ONNX file, ``INFERENCE_NUM_THREADS`` = the protocol's threads,
  ``INFERENCE_PRECISION_HINT`` f32 (OpenVINO's default on CPUs with bf16 units is bf16: the
  precision it reports is recorded), ``PERFORMANCE_HINT`` LATENCY at batch 1 and THROUGHPUT
  above, where a timed step keeps ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` batches in flight;
* **tensorrt**: torch-tensorrt's dynamo frontend, the engine in the protocol's precision, saved
  to the artefact cache.

Each runtime's package is imported only here, inside the function that builds its runner; a
missing one is a ``ZooError`` naming the package to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.artifacts import Artifact, artifact_key, cached_file, runtime_cache_dir
from zoo.environment import package_version
from zoo.errors import ZooError
from zoo.protocol import RUNTIME_PACKAGES, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "ONNX_OPSET",
    "Runner",
    "compile_runner",
    "eager_runner",
    "export_onnx",
    "missing_package",
    "onnxruntime_runner",
    "openvino_runner",
    "tensorrt_runner",
]

#: The ONNX opset the exports use (both runtimes read it; part of the artefact key).
ONNX_OPSET = 18
_INPUT, _OUTPUT = "input", "logits"


@dataclass
class Runner:
    """A runtime ready to run: ``call()`` one timed step, ``predict(batch)`` logits."""

    runtime: str
    call: Callable[[], object]
    predict: Callable[[np.ndarray], np.ndarray]
    sync: Callable[[], None] = lambda: None
    batches_per_call: int = 1  # OpenVINO's throughput mode runs several batches per step
    info: dict[str, Any] = field(default_factory=dict)


def missing_package(runtime: str) -> str | None:
    """Why ``runtime`` cannot run here for want of its package, or None."""
    package = RUNTIME_PACKAGES.get(runtime)
    if package is None:
        return None
    module = package.replace("-", "_")
    if importlib.util.find_spec(module) is None:
        extra = "requirements-gpu.txt" if runtime == "tensorrt" else "requirements.txt; make run"
        return (
            f"runtime {runtime!r} needs the package {package}, which is not installed: "
            f"pip install {package} ({extra} installs it)"
        )
    return None


def _require(runtime: str) -> None:
    reason = missing_package(runtime)
    if reason:
        raise ZooError(reason)


# --------------------------------------------------------------------------- PyTorch


def _autocast(device: str, precision: str) -> contextlib.AbstractContextManager[object]:
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _torch_sync(device: str) -> Callable[[], None]:
    if not device.startswith("cuda"):
        return lambda: None
    import torch

    return lambda: torch.cuda.synchronize(device)


def _torch_runner(
    runtime: str,
    module: Callable[..., torch.Tensor],
    example: torch.Tensor,
    protocol: Protocol,
    *,
    autocast: bool = True,
) -> Runner:
    import torch

    precision = protocol.precision if autocast else "fp32"  # an engine has its own precision

    def call() -> object:
        with torch.inference_mode(), _autocast(protocol.device, precision):
            return module(example)

    def predict(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(example.device)
        if protocol.channels_last and autocast:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), _autocast(protocol.device, precision):
            return module(x).float().cpu().numpy()

    info = {"runtime_version": "", "runtime_precision": protocol.precision}
    return Runner(runtime, call, predict, _torch_sync(protocol.device), info=info)


def eager_runner(model: torch.nn.Module, example: torch.Tensor, protocol: Protocol) -> Runner:
    """PyTorch eager; the caller has put the model and example on the device and in
    channels_last when the protocol asks."""
    runner = _torch_runner("eager", model, example, protocol)
    runner.info["compile_s"] = 0.0
    return runner


def compile_runner(model: torch.nn.Module, example: torch.Tensor, protocol: Protocol) -> Runner:
    """``torch.compile`` (Inductor); the first call compiles and is timed as ``compile_s``."""
    import torch

    # Inductor reads its cache folder from the environment when it first needs it.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(runtime_cache_dir("inductor")))
    # A CPU-only build says "No CUDA runtime is found" while compiling: noise, not a problem.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    compiled = torch.compile(model)
    runner = _torch_runner("compile", compiled, example, protocol)
    started = time.perf_counter()
    runner.call()
    runner.sync()
    runner.info["compile_s"] = time.perf_counter() - started
    return runner


# --------------------------------------------------------------------------- ONNX


def _operator_of(exc: BaseException) -> str:
    """The unsupported operator named in an exporter error, if any."""
    import re

    text = str(exc)
    match = re.search(r"operator '([^']+)'", text) or re.search(r"(aten::\w+)", text)
    return f"operator {match.group(1)}" if match else (text.splitlines()[0] if text else "")


def export_onnx(
    model: torch.nn.Module,
    example: torch.Tensor,
    key_parts: dict[str, Any],
    *,
    description: str,
    dynamic_batch: bool = False,
) -> Artifact:
    """The model as an ONNX file (opset ``ONNX_OPSET``), from the artefact cache or exported now.

    ``key_parts`` must name everything that makes the model what it is (configuration, weights);
    the batch, the input size, the opset and the torch version are added here.
    """
    import torch

    model = model.to(memory_format=torch.contiguous_format)
    example = example.contiguous()
    key = artifact_key(
        **key_parts,
        kind="onnx",
        input_shape=list(example.shape),
        dynamic_batch=dynamic_batch,
        opset=ONNX_OPSET,
        torch=package_version("torch"),
    )

    def build(path: Path) -> None:
        axes = {_INPUT: {0: "batch"}, _OUTPUT: {0: "batch"}} if dynamic_batch else None
        try:
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                # The TorchScript exporter is deprecated in favour of torch.export's, which needs
                # onnxscript and is slower; for these CNNs it exports the same graph.
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    opset_version=ONNX_OPSET,
                    dynamo=False,  # the TorchScript exporter: no onnxscript, stable for CNNs
                    input_names=[_INPUT],
                    output_names=[_OUTPUT],
                    dynamic_axes=axes,
                )
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
            raise ZooError(
                f"ONNX export failed ({type(exc).__name__}: {_operator_of(exc)}); accepted: "
                "models whose operators ONNX opset "
                f"{ONNX_OPSET} covers (runtime eager or compile measure any model)"
            ) from None

    return cached_file("onnx", key, "model.onnx", build, description=description)


def onnxruntime_runner(onnx_path: Path, example: np.ndarray, protocol: Protocol) -> Runner:
    """ONNX Runtime, CPU execution provider, the protocol's threads."""
    _require("onnxruntime")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(protocol.threads or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    started = time.perf_counter()
    try:
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a file ONNX Runtime cannot read
        raise ZooError(f"ONNX Runtime cannot load {onnx_path.name}: {_operator_of(exc)}") from None
    compile_s = time.perf_counter() - started
    feed = {_INPUT: example}

    def predict(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {_INPUT: batch})[0]

    return Runner(
        "onnxruntime",
        lambda: session.run(None, feed),
        predict,
        info={
            "runtime_version": ort.__version__,
            "runtime_precision": "fp32",
            "compile_s": compile_s,
        },
    )


def openvino_runner(onnx_path: Path, example: np.ndarray, protocol: Protocol) -> Runner:
    """OpenVINO on the CPU: f32 inference precision, the protocol's threads, LATENCY hint at
    batch 1 and THROUGHPUT above (with that many requests in flight per timed step)."""
    _require("openvino")
    import openvino as ov

    hint = "LATENCY" if protocol.batch_size == 1 else "THROUGHPUT"
    core = ov.Core()
    core.set_property({"CACHE_DIR": str(runtime_cache_dir("openvino"))})
    config = {
        "INFERENCE_NUM_THREADS": int(protocol.threads or 1),
        "PERFORMANCE_HINT": hint,
        "INFERENCE_PRECISION_HINT": "f32",
    }
    started = time.perf_counter()
    try:
        compiled = core.compile_model(str(onnx_path), "CPU", config)
    except Exception as exc:  # noqa: BLE001 - a model OpenVINO cannot compile
        raise ZooError(f"OpenVINO cannot compile {onnx_path.name}: {_operator_of(exc)}") from None
    compile_s = time.perf_counter() - started
    precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()  # "f32", "bf16"
    output = compiled.output(0)
    request = compiled.create_infer_request()

    def predict(batch: np.ndarray) -> np.ndarray:
        return request.infer({0: batch})[output]

    in_flight = 1
    call: Callable[[], object] = lambda: request.infer({0: example})  # noqa: E731
    if hint == "THROUGHPUT":
        in_flight = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        queue = ov.AsyncInferQueue(compiled, in_flight)

        def call() -> object:
            for _ in range(in_flight):
                queue.start_async({0: example})
            queue.wait_all()
            return None

    return Runner(
        "openvino",
        call,
        predict,
        batches_per_call=in_flight,
        info={
            "runtime_version": ov.__version__.split("-")[0],
            "runtime_precision": precision,
            "compile_s": compile_s,
            "hint": hint,
            "in_flight": in_flight,
        },
    )


# --------------------------------------------------------------------------- TensorRT


def tensorrt_runner(
    model: torch.nn.Module,
    example: torch.Tensor,
    protocol: Protocol,
    key_parts: dict[str, Any],
    description: str,
) -> Runner:
    """torch-tensorrt (dynamo frontend) on CUDA: an engine built for the example's shape in the
    protocol's precision, saved in the artefact cache and loaded from it next time."""
    _require("tensorrt")
    import torch
    import torch_tensorrt

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    key = artifact_key(
        **key_parts,
        kind="tensorrt",
        input_shape=list(example.shape),
        precision=protocol.precision,
        device=torch.cuda.get_device_name(example.device),
        torch_tensorrt=package_version("torch-tensorrt"),
    )

    def build(path: Path) -> None:
        compiled = torch_tensorrt.compile(
            model,
            ir="dynamo",
            inputs=[example],
            enabled_precisions={dtype[protocol.precision]},
        )
        torch_tensorrt.save(compiled, str(path), inputs=[example])

    started = time.perf_counter()
    artifact = cached_file("tensorrt", key, "engine.ep", build, description=description)
    engine = torch_tensorrt.load(str(artifact.path)).module()
    compile_s = time.perf_counter() - started
    runner = _torch_runner("tensorrt", engine, example, protocol, autocast=False)
    runner.info.update(
        runtime_version=package_version("torch-tensorrt"),
        compile_s=compile_s,
        artifact_cached=artifact.cached,
    )
    return runner
