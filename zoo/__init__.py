"""The model zoo: builds PyTorch models for what the explorer describes, measures them, stores
the results and classifies with real weights. The only package that touches torch and timm.

This is its public face: the entry points a page, a CLI or a user's script needs, loaded on
first use so that ``import zoo`` stays cheap (no torch). The wings behind it and what each may
import are in docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.classify.cam import EXPLANATION_NOTE, activation_map
    from zoo.classify.classifier import classify, get_classifier
    from zoo.classify.evaluate import evaluate
    from zoo.classify.images import ImageError, decode_image
    from zoo.latency.predict import calibrated_gmacs, model_for, predict_document
    from zoo.latency.saved import saved_models
    from zoo.measure.orchestrate import (
        available_runtimes,
        measure,
        plan,
        preferred_runtime,
        sweep,
    )
    from zoo.models.spec import (
        ModelSpec,
        spec_for_network,
        spec_from_multipliers,
        spec_from_name,
        spec_from_phi,
        spec_from_timm,
        spec_from_variant,
    )
    from zoo.paths import STORE_ENV
    from zoo.profile.saved import load_profile
    from zoo.records.environment import cuda_present, host_name, node_name
    from zoo.records.measurement import Measurement
    from zoo.records.protocol import PRECISIONS, Protocol, precisions_on, protocol_key
    from zoo.records.runtimes import BEST, REFERENCE_RUNTIME, get_runtime
    from zoo.store.estimates import estimate_seconds
    from zoo.store.jobs import ACTIVE_STATES, Job, cancel, jobs
    from zoo.store.measurement_store import MeasurementStore
    from zoo.weights.sources import available_weights, how_to_get_weights
    from zoo.workers.ray_background import (
        cluster_run_status,
        operator_address,
        start_dispatch,
    )
    from zoo.workers.worker import enqueue, ensure_worker, worker_log_path

#: Each public name → the module that defines it (imported when the name is first used).
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("ModelSpec", "spec_for_network", "spec_from_multipliers", "spec_from_name",
                     "spec_from_phi", "spec_from_timm", "spec_from_variant"), "zoo.models.spec"),
    **dict.fromkeys(("PRECISIONS", "Protocol", "precisions_on", "protocol_key"),
                    "zoo.records.protocol"),
    **dict.fromkeys(("BEST", "REFERENCE_RUNTIME", "get_runtime"), "zoo.records.runtimes"),
    "Measurement": "zoo.records.measurement",
    **dict.fromkeys(("cuda_present", "host_name", "node_name"), "zoo.records.environment"),
    "STORE_ENV": "zoo.paths",
    "MeasurementStore": "zoo.store.measurement_store",
    **dict.fromkeys(("estimate_seconds", "gmacs_of"), "zoo.store.estimates"),
    **dict.fromkeys(("ACTIVE_STATES", "BACKGROUND", "Job", "NORMAL", "cancel", "jobs",
                     "request_key"), "zoo.store.jobs"),
    **dict.fromkeys(("available_runtimes", "measure", "plan", "preferred_protocol",
                     "preferred_protocol",
    "preferred_runtime", "sweep"), "zoo.measure.orchestrate"),
    **dict.fromkeys(("Coverage", "coverage"), "zoo.measure.coverage"),
    **dict.fromkeys(("VIEW_KEYS", "view_specs"), "zoo.models.views"),
    **dict.fromkeys(("enqueue", "ensure_worker", "worker_log_path"), "zoo.workers.worker"),
    **dict.fromkeys(("cluster_run_status", "operator_address", "start_dispatch"),
                    "zoo.workers.ray_background"),
    **dict.fromkeys(("classify", "get_classifier"), "zoo.classify.classifier"),
    **dict.fromkeys(("EXPLANATION_NOTE", "activation_map"), "zoo.classify.cam"),
    **dict.fromkeys(("ImageError", "decode_image"), "zoo.classify.images"),
    "evaluate": "zoo.classify.evaluate",
    **dict.fromkeys(("calibrated_gmacs", "model_for", "predict_document"), "zoo.latency.predict"),
    "saved_models": "zoo.latency.saved",
    "load_profile": "zoo.profile.saved",
    **dict.fromkeys(("available_weights", "how_to_get_weights"),
                    "zoo.weights.sources"),
}  # fmt: skip

__all__ = [
    "ZooError",
    "ACTIVE_STATES",
    "BACKGROUND",
    "BEST",
    "Coverage",
    "EXPLANATION_NOTE",
    "ImageError",
    "Job",
    "Measurement",
    "MeasurementStore",
    "ModelSpec",
    "NORMAL",
    "PRECISIONS",
    "Protocol",
    "REFERENCE_RUNTIME",
    "STORE_ENV",
    "VIEW_KEYS",
    "activation_map",
    "available_runtimes",
    "available_weights",
    "cancel",
    "cluster_run_status",
    "classify",
    "coverage",
    "cuda_present",
    "decode_image",
    "enqueue",
    "ensure_worker",
    "estimate_seconds",
    "evaluate",
    "get_classifier",
    "gmacs_of",
    "get_runtime",
    "host_name",
    "how_to_get_weights",
    "jobs",
    "load_profile",
    "measure",
    "model_for",
    "node_name",
    "precisions_on",
    "preferred_protocol",
    "predict_document",
    "calibrated_gmacs",
    "preferred_runtime",
    "protocol_key",
    "request_key",
    "saved_models",
    "spec_for_network",
    "spec_from_multipliers",
    "spec_from_name",
    "spec_from_phi",
    "spec_from_timm",
    "spec_from_variant",
    "operator_address",
    "plan",
    "start_dispatch",
    "sweep",
    "view_specs",
    "worker_log_path",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next time without this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
