"""The compare page's measuring: queue the missing points, the user's configurations, or a sweep on
every node of a Ray cluster.

Why jobs a worker runs, never a measurement in the page's script: a measurement takes seconds to
minutes under the machine-wide lock, and a job outlives the tab. The path: docs/architecture.md,
'How a measurement flows, from a click to the timing loop'.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard.compare.choices import KEY, CompareChoice
from dashboard.compare.reference import resolutions_of
from dashboard.measuring import queue, queue_panel
from dashboard.text import plural

if TYPE_CHECKING:
    from zoo import MeasurementStore, ModelSpec, Protocol

__all__ = ["cluster", "missing_points", "protocols_for", "submit", "sweep_specs", "view_missing"]


def protocols_for(choice: CompareChoice, runtimes: tuple[str, ...]) -> list[Protocol]:
    """The protocols a "Measure" asks for: the chosen runtime, or for 'best' every runtime here
    (``runtimes``, after 'best') that builds quickly (those that compile for minutes, only when
    chosen by name)."""
    from zoo import Protocol, get_runtime

    names = [choice.runtime]
    if choice.any_runtime:
        names = [r for r in runtimes[1:] if not get_runtime(r).compiles]
    out = []
    for name in names:
        try:
            out.append(
                Protocol(
                    device=choice.device,
                    batch_size=choice.batch,
                    precision=choice.precision,
                    runtime=name,
                )
            )
        except ValueError:  # ZooError: this runtime cannot run this combination
            continue
    return out


def sweep_specs(
    reference_of: Callable[[str], pd.DataFrame],
) -> tuple[list[ModelSpec], list[ModelSpec]]:
    """The first-run sweep: the default view's networks, then the other views' (those the
    default view lacks), each part cheapest first (by MACs), so that half the chart lands soon."""
    from data import accuracy
    from zoo import spec_from_timm

    def ordered(frame: pd.DataFrame) -> list[tuple[str, int]]:
        rows = frame.sort_values("gmacs", na_position="last")
        return [(str(r.model), int(r.resolution_px)) for r in rows.itertuples()]

    first = ordered(reference_of(accuracy.DEFAULT_VIEW))
    later_frames = [reference_of(v.key) for v in accuracy.VIEWS if v.key != accuracy.DEFAULT_VIEW]
    later = [p for p in ordered(pd.concat(later_frames)) if p not in first]
    specs: list[list[ModelSpec]] = [[], []]
    for i, pairs in enumerate((first, list(dict.fromkeys(later)))):
        for model, px in pairs:
            try:
                specs[i].append(spec_from_timm(model, resolution=px))
            except ValueError:  # ZooError: not a model timm builds here
                continue
    return specs[0], specs[1]


def view_missing(
    store: MeasurementStore | None,
    frame: pd.DataFrame,
    protocols: list[Protocol],
    choice: CompareChoice,
    *,
    own: bool = False,
) -> None:
    """ "Measure what this view is missing": exactly the chart's networks without a point under
    the chosen settings, with their count and estimated time before anyone confirms."""
    from zoo import (
        ACTIVE_STATES,
        NORMAL,
        estimate_seconds,
        jobs,
        preferred_runtime,
        request_key,
        spec_from_timm,
    )

    if store is None:
        return
    if choice.any_runtime:  # 'best' of one: the runtime usually fastest here
        protocols = [p for p in protocols if p.runtime == preferred_runtime(choice.device)][:1]
    if not protocols and choice.precision == "int8":
        st.caption(
            "int8 points need calibration images, so they are measured from the command line: "
            "`python -m zoo measure --view ACC --runtime openvino --precision int8 "
            "--calibration DIR` (a folder of images you do not evaluate on)."
        )
    if not protocols:
        return
    protocol = protocols[0]
    # Waiting in the background sweep counts as missing: the button moves it to the front.
    active = {
        j.request_key
        for j in jobs(store, states=ACTIVE_STATES, limit=2000)
        if j.priority >= NORMAL or j.state == "running"
    }
    waiting = {
        j.request_key for j in jobs(store, states=("queued",), limit=2000) if j.priority < NORMAL
    }
    wanted = frame[frame["latency_ms"].isna() & frame["resolution_px"].notna()]
    missing, queued, behind = [], 0, 0
    for r in wanted.itertuples():
        try:
            spec = spec_from_timm(str(r.model), resolution=int(r.resolution_px))
        except ValueError:  # ZooError: not a model timm builds here
            continue
        if request_key(spec, protocol) in active:
            queued += 1
        else:
            missing.append(spec)
            behind += request_key(spec, protocol) in waiting
    drawn = int(frame["latency_ms"].notna().sum())
    what = "evaluated models" if own else "networks this view draws"
    settings = f"batch {choice.batch}, {choice.precision}, {choice.device}, {protocol.runtime}"
    if not missing:
        if queued:
            st.caption(f"All {len(frame)} {what} have a point or are queued ({queued}).")
        return
    seconds = sum(estimate_seconds(store, protocol, spec) for spec in missing)
    st.markdown(
        f"**This view lacks {plural(len(missing), 'point')}** ({settings}): {drawn} of the "
        f"{len(frame)} {what} have one"
        + (f", {queued} are queued" if queued else "")
        + (f"; {behind} of the missing wait in the background sweep" if behind else "")
        + "."
    )
    if st.button(
        f"Measure what this view is missing: {plural(len(missing), 'job')}, about "
        f"{queue.duration(seconds)} (an estimate)",
        key=KEY + "measure_view",
        type="primary",
        help="Queues one job per missing point at the input size this view's accuracy was "
        "measured at; a worker runs them one at a time in the background, ahead of the "
        "background sweep (a job it already holds moves to the front). What will not fit in "
        "this machine's memory is refused and named.",
    ):
        submit(store, missing, [protocol])


def submit(store: MeasurementStore, specs: list[ModelSpec], protocols: list[Protocol]) -> list[int]:
    """Queue the jobs and say what happened (the panel above shows their progress)."""
    if not protocols:
        st.error("No runtime here can measure this combination of device, batch and precision.")
        return []
    ids, problems = queue_panel.submit(
        store, specs, protocols, requested_by=queue.requester(queue_panel.session_id())
    )
    for problem in problems:
        st.error(f"Refused: {problem}")
    if ids:
        queue_panel.keep_worker(queue_panel.store_location())
        # Redraw now: the queue panel shows the new jobs and polls at its fast rate.
        st.session_state[KEY + "flash"] = (
            f"Queued {len(ids)} measurement job(s) on {', '.join(p.runtime for p in protocols)}: "
            "they run in the background and appear on the chart as they land; the queue above "
            "shows them, and you may leave this page."
        )
        if not problems:
            st.rerun()
    return ids


def missing_points(
    store: MeasurementStore | None,
    reference: pd.DataFrame,
    frame: pd.DataFrame,
    protocols: list[Protocol],
    choice: CompareChoice,
) -> None:
    """Queue measurements of the reference models without a point."""
    from zoo import spec_from_timm

    st.subheader("Measure missing points")
    flash = st.session_state.pop(KEY + "flash", None)
    if flash:
        st.success(flash)
    if store is None:
        st.caption("Measuring needs a writable measurement store (see above).")
        return
    missing = [
        str(m) for m, lat in zip(frame["model"], frame["latency_ms"], strict=True) if pd.isna(lat)
    ]
    chosen = st.multiselect(
        f"Models without a batch-{choice.batch} {choice.precision} point on {choice.device} "
        "(choose batch, precision, device and runtime above)",
        missing,
        key=KEY + "models",
    )
    runtimes = ", ".join(p.runtime for p in protocols) or "none"
    if not st.button(
        "Measure",
        key=KEY + "start",
        disabled=not chosen,
        type="primary",
        help=f"Queues one job per model and runtime ({runtimes}); a worker runs them one at a "
        "time under the zoo's machine-wide lock, each point stored and drawn as it lands.",
    ):
        return
    resolution_of = resolutions_of(reference)
    specs = []
    for model in chosen:
        try:
            specs.append(spec_from_timm(model, resolution=resolution_of.get(model)))
        except Exception as exc:  # noqa: BLE001 - ZooError: not a model timm can build here
            st.error(f"{model}: {exc}")
    if specs:
        submit(store, specs, protocols)


def cluster(store: MeasurementStore | None, reference: pd.DataFrame, choice: CompareChoice) -> None:
    """Measure chosen models on every selected node of the Ray cluster the operator allowed
    (``EFFSCALE_RAY`` when the server started; a visitor never chooses an address), with a
    shared (PostgreSQL) store only; one run at a time, in the background, followed through its
    jobs."""
    if store is None or store.path is not None:
        return
    from zoo import (
        REFERENCE_RUNTIME,
        Protocol,
        cluster_run_status,
        jobs,
        operator_address,
        spec_from_timm,
        start_dispatch,
    )

    try:
        address = operator_address()
    except ValueError as exc:  # ZooError: the operator's setting is not usable
        st.caption(f"Cluster runs are off: {exc}")
        return
    if address is None:
        return
    with st.expander(f"Measure on the Ray cluster at {address} (each selected node)"):
        st.caption(
            "Each chosen model on each selected node, into this store; the chart's Machine "
            "choice shows the nodes' points as they land (docs/scale-out.md). One run at a time "
            "per server; one runtime per run: with 'best' chosen above, the nodes measure eager."
        )
        selector = st.text_input(
            "Nodes", value="all", key=KEY + "ray_nodes", help="all, or LABEL=VALUE"
        )
        models = st.multiselect("Models", list(reference["model"]), key=KEY + "ray_models")
        if st.button("Measure on the cluster", key=KEY + "ray_start", disabled=not models):
            try:
                resolution_of = resolutions_of(reference)
                specs = [spec_from_timm(m, resolution=resolution_of.get(m)) for m in models]
                protocol = Protocol(
                    device=choice.device,
                    batch_size=choice.batch,
                    precision=choice.precision,
                    runtime=REFERENCE_RUNTIME if choice.any_runtime else choice.runtime,
                )
                start_dispatch(store.location, specs, protocol, selector=selector)
            except ValueError as exc:  # ZooError: the nodes, the store, a run in flight
                st.error(str(exc))
        current = cluster_run_status()
        if current is None:
            return
        started, exit_status = current
        if exit_status not in (None, 0):
            st.error(f"The cluster run {started.group} ended with status {exit_status}: "
                     f"{_last_line(started.log)}")  # fmt: skip
        found = jobs(store, group=started.group)
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "job": j.id,
                        "node": j.target,
                        "model": j.label,
                        "state": j.state,
                        "detail": j.error or j.progress,
                    }
                    for j in found
                ],  # fmt: skip
                columns=["job", "node", "model", "state", "detail"],
            ),
            hide_index=True,
            key=KEY + "ray_jobs",
        )


def _last_line(log: str) -> str:
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return "(its log is gone)"
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
