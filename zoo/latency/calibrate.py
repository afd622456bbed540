"""A calibration run: the design (``zoo.latency.design``) queued as measurement jobs within a
time budget, waited for, and the model refitted and saved each time results land.

Why refit as they land: a user who stops a long calibration keeps a model from what was
measured, and sees its back-test improve (docs/latency-model.md, 'Calibrating').
"""

from __future__ import annotations

from collections.abc import Callable

from zoo.errors import ZooError
from zoo.latency.design import DEFAULT_MAX_GMACS, calibration_design
from zoo.latency.fit import MIN_POINTS, LatencyModel
from zoo.latency.points import fit_from_store
from zoo.latency.saved import save_model
from zoo.measure.coverage import coverage
from zoo.models.spec import ModelSpec, spec_for_network
from zoo.records.protocol import Protocol
from zoo.store.estimates import estimate_seconds
from zoo.store.measurement_store import MeasurementStore

__all__ = ["calibrate", "calibration_specs"]

GROUP = "calibrate"


def calibration_specs(configs: int, max_gmacs: float | None = None) -> list[ModelSpec]:
    """The design as model specs (the compound curve's points under their φ names)."""
    return [
        spec_for_network(n) for n in calibration_design(configs, max_gmacs or DEFAULT_MAX_GMACS)
    ]


def _within_budget(
    store: MeasurementStore, specs: list[ModelSpec], protocol: Protocol, budget_s: float
) -> tuple[list[ModelSpec], float]:
    kept, total = [], 0.0
    for spec in specs:
        seconds = estimate_seconds(store, protocol, spec)
        if total + seconds <= budget_s:
            kept.append(spec)
            total += seconds
    return kept, total


def _refit(
    store: MeasurementStore, protocol: Protocol, say: Callable[[str], None]
) -> LatencyModel | None:
    try:
        model = fit_from_store(store, protocol)
    except ZooError:
        return None
    save_model(model)
    test = model.backtest
    say(
        f"refitted on {test.points} configurations: {test.within_10_pct:.0f} % of held-out "
        f"points within ±10 %, MAPE {test.mape_pct:.1f} %"
    )
    return model


def calibrate(
    location: str | None,
    protocol: Protocol,
    *,
    configs: int,
    budget_s: float,
    max_gmacs: float | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> LatencyModel | None:
    """Measure the design's configurations the store lacks (within ``budget_s`` by the queue's
    own estimates), refit after each, save and return the model (None: too few points)."""
    from zoo.store.jobs import cancel, worker_id
    from zoo.workers.worker import enqueue, ensure_worker, wait_for

    me = f"calibrate {worker_id()}"
    with MeasurementStore(location) as store:
        design = calibration_specs(configs, max_gmacs)
        have = coverage(store, design, protocol)
        wanted = [s for s in design if s not in have.measured]
        chosen, seconds = _within_budget(store, wanted, protocol, budget_s)
        say(
            f"calibration design: {len(design)} configurations, {len(have.measured)} already "
            f"measured, {len(chosen)} to measure (about {seconds / 60:.1f} min estimated)"
            + (
                f"; {len(wanted) - len(chosen)} left out to stay in the budget"
                if len(chosen) < len(wanted)
                else ""
            )
        )
        model = _refit(store, protocol, say)
        submitted = enqueue(store, chosen, protocol, requested_by=me, group=GROUP)
        if submitted and ensure_worker(location) is not None:
            say("started a worker for this store")
        done: set[int] = set()
        restarts = 0

        def on_stall(_: list) -> bool:
            nonlocal restarts
            restarts += 1  # a worker that keeps stopping (memory, disk): give up after three
            if restarts > 3:
                say("error: no worker finished the calibration's jobs (started three times)")
                return False
            ensure_worker(location)
            return True

        def on_progress(current: list) -> None:
            nonlocal model
            finished = {job.id for job in current if not job.active}
            if finished - done:
                done.update(finished)
                say(f"{len(done)} of {len(submitted)} measured")
                model = _refit(store, protocol, say) or model

        try:
            wait_for(
                store,
                [job.id for job in submitted],
                on_progress=on_progress,
                on_stall=on_stall,
            )
        except KeyboardInterrupt:
            for job in submitted:
                cancel(store, job.id, me)
            say("interrupted: this calibration's requests were withdrawn")
            raise
        model = _refit(store, protocol, say) or model
    if model is None:
        say(
            f"error: fewer than {MIN_POINTS} clean measurements for {protocol.runtime} "
            f"{protocol.precision}: no model (measure more with --configs, or a quieter machine)"
        )
    return model
