"""What a chart still lacks: of a list of networks, which have a clean stored result under a
protocol on this machine, which are queued, which the memory guard refuses, and which are missing
(with the estimated time to measure them).

Why: "measure what this view is missing" must queue exactly the points the chart lacks and say
how many and how long before anyone confirms; a view's count is also what the first-run sweep
and the page's progress read. docs/architecture.md, 'The compare page'.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.errors import ZooError
from zoo.measure.orchestrate import plan
from zoo.models.spec import ModelSpec
from zoo.records.protocol import Protocol
from zoo.store.estimates import estimate_seconds
from zoo.store.jobs import ACTIVE_STATES, jobs, request_key
from zoo.store.measurement_store import MeasurementStore

__all__ = ["Coverage", "coverage"]


@dataclass(frozen=True)
class Coverage:
    """The networks of one chart under one protocol, by what is known of them here."""

    protocol: Protocol
    measured: tuple[ModelSpec, ...]  # a clean result is stored
    noisy: tuple[ModelSpec, ...]  # only a noisy result is stored (measured again when queued)
    queued: tuple[ModelSpec, ...]  # an active job asks for it
    refused: tuple[tuple[ModelSpec, str], ...]  # will not be measured here, and why
    missing: tuple[ModelSpec, ...]  # to queue
    missing_s: float  # estimated seconds to measure ``missing`` (an estimate)

    @property
    def to_queue(self) -> tuple[ModelSpec, ...]:
        """What a "measure what is missing" queues: the missing and the noisy."""
        return self.missing + self.noisy


def coverage(store: MeasurementStore, specs: list[ModelSpec], protocol: Protocol) -> Coverage:
    """Sort ``specs`` by what ``store`` holds for them under ``protocol`` on this machine."""
    active = {j.request_key for j in jobs(store, states=ACTIVE_STATES, limit=5000)}
    measured, noisy, queued, missing = [], [], [], []
    refused: list[tuple[ModelSpec, str]] = []
    for spec in dict.fromkeys(specs):
        try:
            request = plan([spec], protocol)  # the protocol, the runtime's package, memory
        except ZooError as exc:
            refused.append((spec, str(exc)))
            continue
        stored = store.get(spec, request.protocol, request.environment.key)
        if stored is not None and not stored.noisy:
            measured.append(spec)
        elif request_key(spec, protocol) in active:
            queued.append(spec)
        elif stored is not None:
            noisy.append(spec)
        else:
            missing.append(spec)
    seconds = sum(estimate_seconds(store, protocol, spec) for spec in missing + noisy)
    return Coverage(
        protocol=protocol,
        measured=tuple(measured),
        noisy=tuple(noisy),
        queued=tuple(queued),
        refused=tuple(refused),
        missing=tuple(missing),
        missing_s=seconds,
    )
