"""Classification on a deployment runtime: the pretrained model exported once (ONNX, dynamic
batch, cached per weights) and run by ONNX Runtime or OpenVINO, after its logits were checked
against eager PyTorch's on the bundled photos.

Only a verified runtime classifies: outputs that differ from eager fp32's beyond
``zoo.equivalence.FP32_MAX_REL`` refuse to load, with the numbers, rather than give other labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zoo.environment import default_threads
from zoo.equivalence import check_inputs, compare
from zoo.errors import ZooError
from zoo.protocol import Protocol
from zoo.runners import export_onnx, missing_package, onnxruntime_runner, openvino_runner

if TYPE_CHECKING:
    import torch

__all__ = ["CLASSIFY_RUNTIMES", "check_classify_runtime", "runtime_forward"]

#: Runtimes classification can use (eager is PyTorch itself; the others run the ONNX export).
CLASSIFY_RUNTIMES: tuple[str, ...] = ("eager", "onnxruntime", "openvino")


def check_classify_runtime(runtime: object) -> str:
    """``runtime`` if classification can use it here, else ``ZooError`` naming what is accepted."""
    if runtime not in CLASSIFY_RUNTIMES:
        raise ZooError(
            f"runtime {runtime!r} cannot classify: accepted {', '.join(CLASSIFY_RUNTIMES)}"
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
    if runtime == "eager":
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
    make = onnxruntime_runner if runtime == "onnxruntime" else openvino_runner
    runner = make(artifact.path, example.numpy(), protocol)
    inputs, described = check_inputs(input_size)
    with torch.inference_mode():
        reference = model(torch.from_numpy(inputs)).numpy()
    check = compare(reference, np.asarray(runner.predict(inputs)), "fp32", described)
    if not check.verified:
        raise ZooError(
            f"{model_name} on {runtime} gives other logits than eager PyTorch ({check.reason}; "
            f"top-1 agreement {check.top1_pct:.0f} %): not used; accepted: runtime eager"
        )

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(runner.predict(batch.contiguous().numpy())))

    return forward
