"""Latency models on disk: one JSON file per (machine, runtime, precision, batch) in a private
folder of the data folder, written whole, and read back as untrusted input (a file someone else
could have written): checked field by field, ignored with a reason when it is not ours.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from zoo.errors import ZooError
from zoo.files import UnreadableFile, private_dir, read_regular, write_replacing
from zoo.jsontext import strict_dumps
from zoo.latency.features import FEATURES
from zoo.latency.fit import BackTest, LatencyModel
from zoo.paths import data_dir

#: A saved model is a few hundred bytes; anything far larger is not one.
MAX_BYTES = 256 * 1024
_FORMAT = "effscale latency model 1"

__all__ = ["load_model", "model_path", "models_dir", "save_model", "saved_models"]


def models_dir() -> Path:
    """``latency-models`` in the data folder."""
    return data_dir() / "latency-models"


def model_path(machine: str, runtime: str, precision: str, batch_size: int) -> Path:
    """Where the model for this key is kept (every part is checked to be a plain name)."""
    for part in (machine, runtime, precision):
        if not part.replace("_", "").replace("-", "").isalnum():
            raise ZooError(f"not a plain name for a latency model file: {part!r}")
    return models_dir() / f"{machine}-{runtime}-{precision}-b{int(batch_size)}.json"


def save_model(model: LatencyModel) -> Path:
    """Write ``model`` (replacing the file for its key); its path."""
    private_dir(models_dir())
    path = model_path(model.machine, model.runtime, model.precision, model.batch_size)
    document = {"format": _FORMAT, "features": list(FEATURES), **asdict(model)}
    write_replacing(path, strict_dumps(document, indent=1).encode(), mode=0o600)
    return path


def _number(value: object, name: str, low: float = -math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} is not a finite number")
    if value < low:
        raise ValueError(f"{name} is below {low}")
    return float(value)


def _parse(document: object) -> LatencyModel:
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError("not a latency model this version writes")
    if document.get("features") != list(FEATURES):
        raise ValueError("fitted on other features than this version's")
    strings = {k: document.get(k) for k in ("machine", "host", "device_name", "runtime",
                                              "precision", "fitted_at")}  # fmt: skip
    if not all(isinstance(v, str) and len(v) < 300 for v in strings.values()):
        raise ValueError("a name field is not a short string")
    batch = document.get("batch_size")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 4096:
        raise ValueError("batch_size is not a whole number from 1 to 4096")
    coefficients = document.get("coefficients")
    if not isinstance(coefficients, list) or len(coefficients) != len(FEATURES):
        raise ValueError(f"coefficients is not a list of {len(FEATURES)} numbers")
    backtest = document.get("backtest")
    if not isinstance(backtest, dict) or set(backtest) != set(BackTest.__dataclass_fields__):
        raise ValueError("backtest has other fields than this version's")
    models = document.get("models")
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ValueError("models is not a list of names")
    profiled = document.get("profiled", [])  # absent in models saved before profiles were fitted
    if not isinstance(profiled, list) or not all(isinstance(m, str) for m in profiled):
        raise ValueError("profiled is not a list of names")
    test = {k: _number(v, f"backtest.{k}") for k, v in backtest.items()}
    test["points"] = int(_number(backtest["points"], "backtest.points", 0))
    return LatencyModel(
        **strings,
        batch_size=batch,
        coefficients=tuple(_number(c, "a coefficient", 0.0) for c in coefficients),
        backtest=BackTest(**test),
        models=tuple(models),
        profiled=tuple(profiled),
    )


def load_model(path: Path) -> LatencyModel:
    """The model in ``path``; a ``ZooError`` naming the file and what is wrong with it."""
    try:
        return _parse(json.loads(read_regular(path, MAX_BYTES)))
    except UnreadableFile as exc:
        raise ZooError(f"latency model {path.name}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise ZooError(
            f"latency model {path.name} is not usable ({exc}): ignored; python -m zoo calibrate "
            "writes it again"
        ) from None


def saved_models() -> tuple[list[LatencyModel], list[str]]:
    """Every usable saved model, and one line per file that is not."""
    folder = models_dir()
    found, problems = [], []
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(load_model(path))
            except ZooError as exc:
                problems.append(str(exc))
    return found, problems
