"""OpenVINO on the CPU: the cached ONNX export (int8: quantized by NNCF), ``INFERENCE_NUM_THREADS``
= the protocol's threads, ``INFERENCE_PRECISION_HINT`` f32 for fp32 and int8 (its default on CPUs
with bf16 units is bf16: the precision it reports is recorded) and bf16 for bf16, the LATENCY
hint at batch 1 and THROUGHPUT above, where a timed step keeps
``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` batches in flight."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.records.protocol import Protocol
from zoo.records.runtimes import get_runtime
from zoo.runtimes.artifacts import runtime_cache_dir
from zoo.runtimes.onnx_export import operator_of
from zoo.runtimes.quantize import openvino_int8, read_openvino_ir
from zoo.runtimes.runner import Runner, RunnerSource
from zoo.runtimes.signal_stack import kept_signal_stack

if TYPE_CHECKING:
    import numpy as np

__all__ = ["build_runner", "profile_layers"]

_WARMUP = 10


def _compile(source: RunnerSource, protocol: Protocol, extra: dict[str, object]) -> Any:
    """The compiled model for the protocol (``extra``: more properties), the int8 weights'
    buffer it needs kept alive, its compile and quantisation seconds, the precision it ran."""
    import openvino as ov

    assert source.onnx_path is not None, "OpenVINO runs the ONNX export"
    with kept_signal_stack():  # the plugin created here must not own this thread's stack
        hint = "LATENCY" if protocol.batch_size == 1 else "THROUGHPUT"
        core = ov.Core()
        cache = get_runtime(protocol.runtime).kernel_cache
        if cache is not None:
            core.set_property({"CACHE_DIR": str(runtime_cache_dir(cache))})
        config = {
            "INFERENCE_NUM_THREADS": int(protocol.threads or 1),
            "PERFORMANCE_HINT": hint,
            "INFERENCE_PRECISION_HINT": "bf16" if protocol.precision == "bf16" else "f32",
            **extra,
        }
        model: object = str(source.onnx_path)
        quantize_s, keep = None, None
        if protocol.precision == "int8":
            artifact = openvino_int8(
                source.onnx_path,
                source.onnx_sha256,
                str(protocol.calibration),
                protocol.batch_size,
                source.calibration_set(protocol),
            )
            quantize_s = artifact.build_s if not artifact.cached else 0.0
            model, keep = read_openvino_ir(core, artifact.path)
        started = time.perf_counter()
        try:
            compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # noqa: BLE001 - a model OpenVINO cannot compile
            raise ZooError(
                f"OpenVINO cannot compile {source.onnx_path.name}: {operator_of(exc)}"
            ) from None
        compile_s = time.perf_counter() - started
        # What it ran in: "f32" or "bf16" for the float parts (int8: the quantized layers, the
        # rest in that precision).
        floats = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        precision = f"int8+{floats}" if protocol.precision == "int8" else floats
        return compiled, keep, compile_s, quantize_s, precision


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    import openvino as ov

    hint = "LATENCY" if protocol.batch_size == 1 else "THROUGHPUT"
    compiled, keep, compile_s, quantize_s, precision = _compile(source, protocol, {})
    output = compiled.output(0)
    request = compiled.create_infer_request()
    example = source.example

    def predict(batch: np.ndarray) -> np.ndarray:
        _ = keep  # the int8 weights' buffer lives as long as the runner
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
        protocol.runtime,
        call,
        predict,
        batches_per_call=in_flight,
        info={
            "runtime_version": ov.__version__.split("-")[0],
            "runtime_precision": precision,
            "compile_s": compile_s,
            "quantize_s": quantize_s,
            "hint": hint,
            "in_flight": in_flight,
        },
    )


def profile_layers(source: RunnerSource, protocol: Protocol, calls: int) -> list[tuple[str, float]]:
    """(node, ms per call) for each node of the compiled graph that ran, from OpenVINO's
    per-layer performance counters (``PERF_COUNT``), in execution order (batch 1, one request)."""
    if protocol.batch_size != 1:
        raise ZooError(f"a profile runs batch 1, not {protocol.batch_size}")
    compiled, keep, *_ = _compile(source, protocol, {"PERF_COUNT": True})
    request = compiled.create_infer_request()
    totals: dict[str, float] = {}
    for call in range(_WARMUP + calls):
        request.infer({0: source.example})
        if call < _WARMUP:
            continue
        for layer in request.get_profiling_info():
            ms = layer.real_time.total_seconds() * 1000
            totals[layer.node_name] = totals.get(layer.node_name, 0.0) + ms
    _ = keep
    return [(name, ms / calls) for name, ms in totals.items()]
