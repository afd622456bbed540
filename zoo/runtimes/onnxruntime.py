"""ONNX Runtime on the CPU: the cached ONNX export (int8: quantized to QDQ by
``zoo.runtimes.quantize``), the CPU execution provider, ``intra_op_num_threads`` = the
protocol's threads, one inter-op thread, every graph optimisation."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.records.protocol import Protocol
from zoo.runtimes.onnx_export import INPUT_NAME, operator_of
from zoo.runtimes.onnx_parts import cut_parts
from zoo.runtimes.quantize import onnxruntime_int8
from zoo.runtimes.runner import Runner, RunnerSource

if TYPE_CHECKING:
    import numpy as np

__all__ = ["build_runner", "profile_layers", "time_parts"]

_WARMUP = 10
_KERNEL = "_kernel_time"  # the suffix of a kernel's event in the profiling output


def _options(protocol: Protocol, profile_prefix: str | None = None) -> Any:
    """The protocol's session options (``profile_prefix``: with ONNX Runtime's profiling on)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(protocol.threads or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def _model_file(source: RunnerSource, protocol: Protocol) -> tuple[Path, float | None]:
    """The file the session loads (int8: the quantized artefact) and the quantisation seconds."""
    assert source.onnx_path is not None, "ONNX Runtime runs the ONNX export"
    if protocol.precision != "int8":
        return source.onnx_path, None
    artifact = onnxruntime_int8(
        source.onnx_path,
        source.onnx_sha256,
        str(protocol.calibration),
        protocol.batch_size,
        source.calibration_set(protocol),
    )
    return artifact.path, (artifact.build_s if not artifact.cached else 0.0)


def _session(source: RunnerSource, protocol: Protocol, profile_prefix: str | None = None) -> Any:
    """The session the protocol asks for (``profile_prefix``: with ONNX Runtime's profiling on),
    its build and quantisation seconds."""
    import onnxruntime as ort

    options = _options(protocol, profile_prefix)
    path, quantize_s = _model_file(source, protocol)
    started = time.perf_counter()
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a file ONNX Runtime cannot read
        raise ZooError(
            f"ONNX Runtime cannot load {source.onnx_path.name}: {operator_of(exc)}"
        ) from None
    return session, time.perf_counter() - started, quantize_s


def build_runner(source: RunnerSource, protocol: Protocol) -> Runner:
    import onnxruntime as ort

    session, compile_s, quantize_s = _session(source, protocol)
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


def profile_layers(source: RunnerSource, protocol: Protocol, calls: int) -> list[tuple[str, float]]:
    """(node, ms per call) for each kernel ONNX Runtime ran, from its profiling output, in
    execution order: the kernels' own durations (the executor's work between them, which the
    profiler itself slows, is left out and shows as the gap to the whole-model latency)."""
    feed = {INPUT_NAME: source.example}
    with tempfile.TemporaryDirectory(prefix="effscale-ort-profile-") as folder:
        session, _, _ = _session(source, protocol, str(Path(folder) / "profile"))
        for _ in range(_WARMUP + calls):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("name") == "model_run"][-calls:]
    first = runs[0]["ts"]
    totals: dict[str, float] = {}
    for event in sorted(events, key=lambda e: e.get("ts", 0)):
        if event.get("cat") == "Node" and event["name"].endswith(_KERNEL) and event["ts"] >= first:
            name = event["name"][: -len(_KERNEL)]
            totals[name] = totals.get(name, 0.0) + event["dur"]
    return [(name, us / len(runs) / 1000) for name, us in totals.items()]


def time_parts(
    source: RunnerSource,
    protocol: Protocol,
    part_of: Callable[[str], str | None],
    timer: Callable[[Callable[[], object]], float],
) -> dict[str, float]:
    """Each part of the network (``part_of``: a graph node's part) run alone, on a session of
    its own with the protocol's options, timed by ``timer`` (a call → ms); one session at a time
    (two sessions' spinning thread pools slow each other)."""
    import onnxruntime as ort

    path, _ = _model_file(source, protocol)
    times: dict[str, float] = {}
    for piece in cut_parts(path, part_of):
        try:
            session = ort.InferenceSession(
                piece.model, _options(protocol), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - a cut ONNX Runtime cannot load
            raise ZooError(
                f"ONNX Runtime cannot load {piece.part!r} of {path.name} alone: {operator_of(exc)}"
            ) from None
        feeds = piece.feeds()
        times[piece.part] = timer(lambda s=session, f=feeds: s.run(None, f))
        del session
    return times
