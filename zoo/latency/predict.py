"""One prediction: this machine's saved model for a protocol, and what it says about one
network (the numbers ``python -m zoo predict`` prints and the explorer shows, labelled
predicted, with the interval and back-test behind them). docs/latency-model.md.
"""

from __future__ import annotations

import time
from typing import Any

from zoo.records.protocol import Protocol

__all__ = ["calibrated_gmacs", "model_for", "predict_document"]


def model_for(protocol: Protocol) -> Any:
    """This machine's saved model for ``protocol``, or None."""
    from zoo.latency.saved import load_model, model_path
    from zoo.records.environment import environment_for

    path = model_path(
        environment_for(protocol).key, protocol.runtime, protocol.precision, protocol.batch_size
    )
    return load_model(path) if path.exists() else None


def calibrated_gmacs(model: Any) -> tuple[float, float] | None:
    """The GMACs range of the configurations ``model`` was fitted on (their stored names), or None
    when none of them is one the explorer describes."""
    from zoo.models.spec import network_for, spec_from_name

    found = []
    for entry in model.models:
        name, _, px = entry.rpartition("@")
        spec = spec_from_name(name, int(px)) if px.isdigit() else None
        net = network_for(spec) if spec is not None else None
        if net is not None:
            found.append(net.macs / 1e9)
    return (min(found), max(found)) if found else None


def predict_document(model: Any, network: Any) -> dict[str, Any]:
    """What ``predict`` prints as JSON (also what the dashboard shows)."""
    started = time.perf_counter()
    predicted = model.predict_ms(network)
    took_ms = (time.perf_counter() - started) * 1000.0
    low, high = model.interval_ms(predicted)
    test = model.backtest
    return {
        "label": network.label,
        "resolution": network.resolution,
        "runtime": model.runtime,
        "precision": model.precision,
        "batch_size": model.batch_size,
        "device_name": model.device_name,
        "predicted_ms": predicted,
        "interval_ms": [low, high],
        "interval_meaning": "where 80 % of the fit's held-out measurements fell",
        "parts_ms": model.parts_ms(network),
        "backtest": {
            "points": test.points,
            "within_10_pct": test.within_10_pct,
            "within_5_pct": test.within_5_pct,
            "mape_pct": test.mape_pct,
            "method": "leave-one-out over the calibration measurements",
        },
        "fitted_at": model.fitted_at,
        "prediction_took_ms": took_ms,
    }
