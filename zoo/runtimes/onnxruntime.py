"""ONNX Runtime on the CPU: the cached ONNX export (int8: quantized to QDQ by
``zoo.runtimes.quantize``), the CPU execution provider, ``intra_op_num_threads`` = the
protocol's threads, one inter-op thread, every graph optimisation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.records.protocol import Protocol
from zoo.runtimes.onnx_export import INPUT_NAME, operator_of
from zoo.runtimes.quantize import onnxruntime_int8
from zoo.runtimes.runner import Runner, RunnerSource

if TYPE_CHECKING:
    import numpy as np

__all__ = ["build_runner"]


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    import onnxruntime as ort

    assert source.onnx_path is not None, "ONNX Runtime runs the ONNX export"
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(protocol.threads or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    path, quantize_s = source.onnx_path, None
    if protocol.precision == "int8":
        artifact = onnxruntime_int8(
            source.onnx_path,
            source.onnx_sha256,
            str(protocol.calibration),
            protocol.batch_size,
            source.calibration_set(protocol),
        )
        path, quantize_s = artifact.path, (artifact.build_s if not artifact.cached else 0.0)
    started = time.perf_counter()
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a file ONNX Runtime cannot read
        raise ZooError(
            f"ONNX Runtime cannot load {source.onnx_path.name}: {operator_of(exc)}"
        ) from None
    compile_s = time.perf_counter() - started
    feed = {INPUT_NAME: source.example}

    def predict(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {INPUT_NAME: batch})[0]

    return Runner(
        protocol.runtime,
        lambda: session.run(None, feed),
        predict,
        info={
            "runtime_version": ort.__version__,
            "runtime_precision": "int8 (QDQ)" if protocol.precision == "int8" else "fp32",
            "compile_s": compile_s,
            "quantize_s": quantize_s,
        },
    )
