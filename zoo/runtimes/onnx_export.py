"""The model as an ONNX file for the runtimes that run one: exported once per configuration,
weights, input shape and torch version, and kept in the artefact cache (``zoo.runtimes.artifacts``).

The TorchScript exporter (opset ``ONNX_OPSET``): torch.export's needs onnxscript, is slower, and
exports the same graph for these CNNs.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.records.environment import package_version
from zoo.records.runtimes import RUNTIMES, get_runtime
from zoo.runtimes.artifacts import Artifact, artifact_key, cached_file

if TYPE_CHECKING:
    import torch

__all__ = ["INPUT_NAME", "ONNX_OPSET", "OUTPUT_NAME", "export_onnx", "operator_of"]

#: The ONNX opset the exports use (part of the artefact key).
ONNX_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def operator_of(exc: BaseException) -> str:
    """The unsupported operator named in an exporter or runtime error, else its first line."""
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
    rebuild: bool = False,
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
        axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
        try:
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    opset_version=ONNX_OPSET,
                    dynamo=False,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_axes=axes,
                )
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
            others = ", ".join(r for r in RUNTIMES if not get_runtime(r).exports_onnx)
            raise ZooError(
                f"ONNX export failed ({type(exc).__name__}: {operator_of(exc)}); accepted: "
                f"models whose operators ONNX opset {ONNX_OPSET} covers (the runtimes {others} "
                "measure any model)"
            ) from None

    return cached_file("onnx", key, "model.onnx", build, description=description, rebuild=rebuild)
