"""Classification on a deployment runtime and precision: the pretrained model exported once
(ONNX, dynamic batch, cached per weights; int8: quantized on calibration images) and run there,
after its logits were checked against eager fp32's on the bundled photos.

Only a verified runtime classifies: outputs outside ``zoo.runtimes.equivalence``'s rule for the
precision refuse to load, with the numbers, rather than give other labels; the check is kept
(the agreement shown beside a reduced-precision result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.records.environment import check_cpu_precision, default_threads
from zoo.records.protocol import QUANTIZED, Protocol
from zoo.records.runtimes import REFERENCE_RUNTIME, classify_runtimes, get_runtime, runtimes_for
from zoo.runtimes.equivalence import Equivalence, check_inputs, compare
from zoo.runtimes.onnx_export import export_onnx
from zoo.runtimes.runner import RunnerSource, autocast, build_runner, missing_package

if TYPE_CHECKING:
    import numpy as np
    import torch

    from zoo.runtimes.calibration import CalibrationSource

__all__ = ["check_classify_precision", "check_classify_runtime", "runtime_forward"]


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


def check_classify_precision(runtime: str, precision: str) -> None:
    """A ``ZooError`` unless ``runtime`` classifies on the CPU in ``precision``."""
    check_classify_runtime(runtime)
    offered = get_runtime(runtime).precisions.get("cpu", ())
    if precision not in offered:
        raise ZooError(
            f"runtime {runtime!r} cannot classify in {precision}: accepted {', '.join(offered)} "
            f"on it; runtimes for {precision}: {', '.join(runtimes_for('cpu', precision))}"
        )


def runtime_forward(
    model: torch.nn.Module,
    runtime: str,
    input_size: int,
    weights_id: str,
    model_name: str,
    *,
    precision: str = "fp32",
    calibration: CalibrationSource | None = None,
    prepare: Callable[[Any], np.ndarray] | None = None,
) -> tuple[Callable[[torch.Tensor], torch.Tensor], Equivalence | None]:
    """``model``'s forward on ``runtime`` in ``precision`` (logits for an N×3×r×r batch, any N),
    verified (its ``ran_as``: the precision the runtime reports), and its check against eager
    fp32 (None: eager fp32 itself). int8 calibrates on
    ``calibration`` through ``prepare`` (the model's own preprocessing)."""
    import numpy as np
    import torch

    check_classify_precision(runtime, precision)
    if precision in QUANTIZED and calibration is None:
        raise ZooError(f"{precision} needs calibration images: give --calibration DIR")
    if precision != "fp32":
        check_cpu_precision(precision)
    inputs, described = check_inputs(input_size)
    with torch.inference_mode():
        reference = model(torch.from_numpy(inputs)).numpy()
    if get_runtime(runtime).reference:
        if precision == "fp32":
            return model, None

        def autocast_forward(batch: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode(), autocast("cpu", precision):
                return model(batch).float()

        autocast_forward.ran_as = precision  # type: ignore[attr-defined]
        outputs = autocast_forward(torch.from_numpy(inputs)).numpy()
        return autocast_forward, _verified(
            compare(reference, outputs, precision, described), model_name, runtime, precision
        )
    example = torch.zeros(1, 3, input_size, input_size)
    artifact = export_onnx(
        model,
        example,
        {"model": model_name, "weights": weights_id},
        description=f"ONNX export of {model_name} @{input_size}px, dynamic batch, {weights_id}",
        dynamic_batch=True,
    )
    protocol = Protocol(
        device="cpu",
        runtime=runtime,
        threads=default_threads(),
        precision=precision,
        calibration=calibration.digest if calibration else None,
        calibration_dir=calibration.described if calibration else None,
    )
    source = RunnerSource(
        example.numpy(),
        onnx_path=artifact.path,
        onnx_sha256=artifact.sha256,
        calibration=(lambda: calibration.load(input_size, prepare)) if calibration else None,
    )
    runner = build_runner(runtime, source, protocol)
    outputs = np.asarray(runner.predict(inputs))
    check = _verified(
        compare(reference, outputs, precision, described), model_name, runtime, precision
    )

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(runner.predict(batch.contiguous().numpy())))

    forward.ran_as = runner.info.get("runtime_precision", precision)  # type: ignore[attr-defined]
    return forward, check


def _verified(check: Equivalence, model_name: str, runtime: str, precision: str) -> Equivalence:
    if not check.verified:
        raise ZooError(
            f"{model_name} on {runtime} in {precision} gives other logits than eager PyTorch "
            f"({check.reason}; top-1 agreement {check.top1_pct:.0f} %): not used; accepted: "
            f"runtime {REFERENCE_RUNTIME} in fp32"
        )
    return check
