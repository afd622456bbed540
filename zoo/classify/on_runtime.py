"""Classification on a deployment runtime: the pretrained model exported once (ONNX, dynamic
batch, cached per weights) and run there, after its logits were checked against eager PyTorch's
on the bundled photos.

Only a verified runtime classifies: outputs that differ from eager fp32's beyond
``zoo.runtimes.equivalence.FP32_MAX_REL`` refuse to load, with the numbers, rather than give
other labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.records.environment import default_threads
from zoo.records.protocol import Protocol
from zoo.records.runtimes import REFERENCE_RUNTIME, classify_runtimes, get_runtime
from zoo.runtimes.equivalence import check_inputs, compare
from zoo.runtimes.onnx_export import export_onnx
from zoo.runtimes.runner import RunnerSource, build_runner, missing_package

if TYPE_CHECKING:
    import torch

__all__ = ["check_classify_runtime", "runtime_forward"]


def check_classify_runtime(runtime: object) -> str:
    """``runtime`` if classification can use it here, else ``ZooError`` naming what is accepted."""
    if runtime not in classify_runtimes():
        raise ZooError(
            f"runtime {runtime!r} cannot classify: accepted {', '.join(classify_runtimes())}"
        )
    missing = missing_package(str(runtime))
    if missing:
        raise ZooError(missing)
    return str(runtime)


def runtime_forward(
    model: torch.nn.Module, runtime: str, input_size: int, weights_id: str, model_name: str
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model``'s forward on ``runtime`` (logits for an N×3×r×r batch, any N), verified."""
    import numpy as np
    import torch

    check_classify_runtime(runtime)
    if get_runtime(runtime).reference:
        return model
    example = torch.zeros(1, 3, input_size, input_size)
    artifact = export_onnx(
        model,
        example,
        {"model": model_name, "weights": weights_id},
        description=f"ONNX export of {model_name} @{input_size}px, dynamic batch, {weights_id}",
        dynamic_batch=True,
    )
    protocol = Protocol(device="cpu", runtime=runtime, threads=default_threads())
    runner = build_runner(runtime, RunnerSource(example.numpy(), onnx_path=artifact.path), protocol)
    inputs, described = check_inputs(input_size)
    with torch.inference_mode():
        reference = model(torch.from_numpy(inputs)).numpy()
    check = compare(reference, np.asarray(runner.predict(inputs)), "fp32", described)
    if not check.verified:
        raise ZooError(
            f"{model_name} on {runtime} gives other logits than eager PyTorch ({check.reason}; "
            f"top-1 agreement {check.top1_pct:.0f} %): not used; accepted: runtime "
            f"{REFERENCE_RUNTIME}"
        )

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(runner.predict(batch.contiguous().numpy())))

    return forward
