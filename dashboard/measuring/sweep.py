"""The first-run sweep: what a first visit queues so that every view of the compare chart fills
itself, and whether its main part is still running.

Why a sweep at all: a chart of seven points after four minutes is not an answer; the default
view's networks are queued cheapest first, the other views' in the background at low priority
(``EFFSCALE_AUTO_SWEEP=0``: none). Timings: docs/benchmarks.md, 'The job queue'.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dashboard.measuring import queue

if TYPE_CHECKING:
    from zoo import MeasurementStore, ModelSpec

__all__ = ["AUTO_SWEEP_ENV", "auto_sweep_enabled", "first_run_sweep", "sweep_waiting"]

#: ``0`` turns off the compare page's automatic first-run sweep.
AUTO_SWEEP_ENV = "EFFSCALE_AUTO_SWEEP"


def auto_sweep_enabled() -> bool:
    return os.environ.get(AUTO_SWEEP_ENV, "1").strip() != "0"


def first_run_sweep(
    store: MeasurementStore, first: list[ModelSpec], later: list[ModelSpec]
) -> list[str]:
    """Queue the first-run sweep when this store has no CPU measurement and never had one:
    ``first`` (the default view's networks, cheapest first) at normal priority, then ``later``
    (the other views' networks) in the background, so that a view chosen a few minutes later
    is filled too. The problems (empty when queued or not needed)."""
    from zoo import BACKGROUND, enqueue, jobs, plan, preferred_protocol

    if not auto_sweep_enabled() or store.rows(device="cpu"):
        return []
    if jobs(store, group=queue.SWEEP_GROUP, limit=1):
        return []  # swept before (perhaps stopped): never again on its own
    protocol = preferred_protocol("cpu")
    problems: list[str] = []
    for specs, group, priority in (
        (first, queue.SWEEP_GROUP, None),
        (later, queue.SWEEP_MORE_GROUP, BACKGROUND),
    ):
        for spec in specs:
            try:
                plan([spec], protocol)  # what will not fit here is left out, and said once
                enqueue(
                    store,
                    [spec],
                    protocol,
                    requested_by=queue.SWEEP_REQUESTER,
                    group=group,
                    **({} if priority is None else {"priority": priority}),
                )
            except Exception as exc:  # noqa: BLE001 - ZooError: the memory guard, a runtime
                if group == queue.SWEEP_GROUP:
                    problems.append(f"{spec.label}: {exc}")
    return problems


def sweep_waiting(store: MeasurementStore) -> int | None:
    """While the first-run sweep's main part is running: how many networks it measures in all;
    otherwise None."""
    from zoo import ACTIVE_STATES, jobs

    if not jobs(store, states=ACTIVE_STATES, group=queue.SWEEP_GROUP, limit=1):
        return None
    return len(jobs(store, group=queue.SWEEP_GROUP, limit=500))
