"""int8 post-training quantization of the ONNX export, cached: ONNX Runtime's static QDQ
quantization for ``onnxruntime``, NNCF's for ``openvino``.

Both take the calibration images' activations ranges (``zoo.runtimes.calibration``), so the
artefact's cache key holds the export's digest, the images' digest and the tool's version: a
changed model, folder or tool quantizes again. Settings and why: docs/precision.md.
"""

from __future__ import annotations

import contextlib
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.records.environment import package_version
from zoo.runtimes.artifacts import Artifact, artifact_key, cached_file
from zoo.runtimes.onnx_export import INPUT_NAME, operator_of
from zoo.runtimes.signal_stack import kept_signal_stack

if TYPE_CHECKING:
    import numpy as np

    from zoo.runtimes.calibration import CalibrationSet

__all__ = ["batches", "openvino_int8", "onnxruntime_int8", "read_openvino_ir"]

Calibration = Callable[[], "CalibrationSet"]


def batches(images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """``images`` in batches of exactly ``batch_size`` (a static-batch export takes only that):
    the last one filled with repeats.

    >>> import numpy as np
    >>> [b.shape[0] for b in batches(np.zeros((5, 3, 2, 2), np.float32), 2)]
    [2, 2, 2]
    """
    import numpy as np

    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        if len(chunk) < batch_size:
            chunk = np.resize(chunk, (batch_size, *chunk.shape[1:]))
        yield np.ascontiguousarray(chunk, dtype=np.float32)


def _key(tool: str, onnx_sha256: str, digest: str, batch_size: int, **extra: object) -> str:
    return artifact_key(
        kind=f"int8-{tool}",
        onnx_sha256=onnx_sha256,
        calibration=digest,
        batch_size=batch_size,
        tool=package_version(tool),
        **extra,
    )


def onnxruntime_int8(
    onnx_path: Path, onnx_sha256: str, digest: str, batch_size: int, calibration: Calibration
) -> Artifact:
    """The export quantized by ``onnxruntime.quantization.quantize_static``: QDQ format, int8
    weights per channel, uint8 activations, min-max ranges (ONNX Runtime's x86 recommendation)."""

    def build(path: Path) -> None:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        images = calibration().images

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.feeds = ({INPUT_NAME: b} for b in batches(images, batch_size))

            def get_next(self) -> dict | None:
                return next(self.feeds, None)

        try:
            quantize_static(
                str(onnx_path),
                str(path),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        except Exception as exc:  # noqa: BLE001 - the quantizer raises many kinds
            raise ZooError(
                f"ONNX Runtime could not quantize the export: {operator_of(exc)}"
            ) from None

    key = _key("onnxruntime", onnx_sha256, digest, batch_size, format="QDQ", per_channel=True)
    return cached_file(
        "int8-onnxruntime",
        key,
        "model.onnx",
        build,
        description=f"int8 (QDQ) of {onnx_path.name}, calibration {digest}",
    )


def openvino_int8(
    onnx_path: Path, onnx_sha256: str, digest: str, batch_size: int, calibration: Calibration
) -> Artifact:
    """The export quantized by ``nncf.quantize`` (OpenVINO backend, default mixed preset, all
    calibration images), kept as an OpenVINO IR (xml + bin) in one uncompressed tar."""

    def build(path: Path) -> None:
        import tempfile

        import nncf
        import openvino as ov

        images = calibration().images
        model = ov.Core().read_model(str(onnx_path))
        data = list(batches(images, batch_size))
        try:  # NNCF draws its progress on stdout, where the zoo's JSON and CSV go; its
            # OpenVINO plugins must not own this thread's signal stack
            with contextlib.redirect_stdout(sys.stderr), kept_signal_stack():
                quantized = nncf.quantize(model, nncf.Dataset(data), subset_size=len(data))
        except Exception as exc:  # noqa: BLE001 - NNCF raises many kinds
            raise ZooError(f"NNCF could not quantize the export: {operator_of(exc)}") from None
        with tempfile.TemporaryDirectory() as folder:
            xml = Path(folder) / "model.xml"
            ov.save_model(quantized, str(xml), compress_to_fp16=False)
            with tarfile.open(path, "w") as tar:
                tar.add(xml, arcname="model.xml")
                tar.add(xml.with_suffix(".bin"), arcname="model.bin")

    key = _key("nncf", onnx_sha256, digest, batch_size, openvino=package_version("openvino"))
    return cached_file(
        "int8-openvino",
        key,
        "model.tar",
        build,
        description=f"int8 (NNCF) of {onnx_path.name}, calibration {digest}",
    )


def read_openvino_ir(core: object, path: Path) -> tuple[object, object]:
    """The OpenVINO model in the tar ``openvino_int8`` made, read in memory (nothing extracted),
    and the weights buffer it points into (keep it alive while the model is used)."""
    import numpy as np
    import openvino as ov

    with tarfile.open(path, "r") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        if set(members) != {"model.xml", "model.bin"}:
            raise ZooError(f"{path.name} is not an int8 model the zoo made: not loaded")
        xml = tar.extractfile(members["model.xml"]).read()  # type: ignore[union-attr]
        weights = tar.extractfile(members["model.bin"]).read()  # type: ignore[union-attr]
    array = np.frombuffer(bytearray(weights), np.uint8)
    return core.read_model(xml.decode("utf-8"), ov.Tensor(array)), array  # type: ignore[attr-defined]
