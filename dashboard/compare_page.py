"""Compare page: ImageNet top-1 against latency measured on this machine, MACs or params.

Accuracies come from one *accuracy view* at a time (``data.accuracy``: the paper's Table 2, timm
ImageNet-1k only, torchvision, Keras, or the best available with any pre-training), chosen on the
page and kept in the URL (``?acc=``), so that the chart and its Pareto front compare like with
like. Latencies come from the zoo's measurement store for the chosen device, at the input size of
the view's row. Missing points can be measured from here: one model at a time under the zoo's
measurement lock, each point stored and drawn as it lands. Stopping: the Stop button makes
Streamlit rerun the page, which interrupts the loop between two models (the model being timed
finishes and is stored first).

A shared store (PostgreSQL) holds other machines' measurements too: the "Machine" choice shows one
machine's points, or several overlaid with a colour per machine (``tables.overlay_frame``); the
table and its CSV name the machine, device, CPU and host of every point. With such a store the
chosen models can also be measured on every selected node of a Ray cluster (``_cluster_section``:
``zoo.cluster``, in the background, followed through the jobs table).

Where ``python -m zoo evaluate`` has stored evaluations on the user's own labelled folder, the y
axis can show "top-1 on your data" for one folder instead of the published top-1
(``tables.own_accuracy_reference``); the chart names the folder and its image count.

The zoo is imported inside the functions that use it, so that opening another page of the app
never loads it (a test checks this for the explorer page).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import figures, tables
from data import accuracy

if TYPE_CHECKING:
    from zoo.store import MeasurementStore

KEY = "compare_"
BATCH_SIZES = (1, 8, 32, 64)


@st.cache_data(show_spinner=False)
def _reference(view: str) -> pd.DataFrame:
    return tables.reference_frame(view)


@st.cache_data(show_spinner=False)
def _published_gpu(view: str) -> pd.DataFrame:
    return tables.published_gpu_frame(tables.reference_frame(view))


def _accuracy_view() -> str:
    """The accuracy-view control: read from the URL once per session, written back on change.

    A bad ``?acc=`` value falls back to the default view with a warning; only this page's own
    parameter is touched.
    """
    widget = KEY + "view"
    if widget not in st.session_state:
        params = {key: st.query_params.get_all(key) for key in st.query_params}
        st.session_state[widget], st.session_state[KEY + "view_warnings"] = (
            tables.accuracy_view_from_query(params)
        )
    for warning in st.session_state.get(KEY + "view_warnings", []):
        st.warning(warning)
    key = st.radio(
        "Accuracy source",
        [view.key for view in accuracy.VIEWS],
        format_func=lambda k: accuracy.get_view(k).label,
        horizontal=True,
        key=widget,
        help="Which published accuracies the chart shows. Only “best available” admits "
        "checkpoints trained with extra data (ImageNet-12k/21k, JFT, Instagram).",
    )
    if st.query_params.get(tables.ACCURACY_VIEW_PARAM) != key:
        st.query_params[tables.ACCURACY_VIEW_PARAM] = key
    st.caption(accuracy.get_view(key).rule)
    return key


@st.cache_resource(show_spinner=False)
def _store(path: str | None):
    """The measurement store (shared across sessions); (store, problem) — store is None when the
    location cannot be used."""
    from zoo.store import MeasurementStore

    try:
        return MeasurementStore(path), None
    except ValueError as exc:  # ZooError for an unwritable place; say so
        return None, f"measurement store unavailable ({exc}); running without persistence"


@st.cache_resource(show_spinner=False)
def _devices() -> tuple[str, ...]:
    """Devices this machine can measure on."""
    from zoo.environment import cuda_present

    return ("cuda", "cpu") if cuda_present() else ("cpu",)


def _measurement_dicts(store: MeasurementStore | None, device: str) -> list[dict]:
    if store is None:
        return []
    return [row.to_dict() for row in store.rows(device=device)]


def render() -> None:
    from zoo.protocol import PRECISIONS

    st.title("Latency against accuracy")
    st.caption(
        "ImageNet top-1 from one set of published evaluations (the accuracy source below; "
        "source, checkpoint and training data are in each hover) against latency measured on "
        "this machine by the zoo, or against MACs or parameters. The dotted line is the Pareto "
        "front within that set: no other model in it is both faster (or cheaper) and more "
        "accurate."
    )
    view = _accuracy_view()
    reference = _reference(view)
    store, store_problem = _store(os.environ.get("EFFSCALE_STORE") or None)
    if store_problem:
        st.info(store_problem)
    reference, accuracy_column = _accuracy_axis(store, reference, view)

    devices = tables.device_choices(_devices(), store.devices() if store is not None else ())
    controls = st.columns([3, 1, 1, 1, 1, 2])
    with controls[0]:
        axis = st.radio(
            "x axis",
            tuple(figures.COMPARE_AXES),
            format_func={
                "latency": "latency (ms)",
                "macs": "MACs",
                "params": "params",
            }.__getitem__,
            horizontal=True,
            key=KEY + "axis",
        )
    with controls[1]:
        device = st.selectbox("Device", devices, key=KEY + "device")
    stored = _measurement_dicts(store, device)
    with controls[2]:
        batch = st.selectbox("Batch", BATCH_SIZES, key=KEY + "batch")
    with controls[3]:
        # Reduced precision is autocast on CUDA only (the zoo refuses it on CPU).
        precisions = PRECISIONS if device.startswith("cuda") else ("fp32",)
        precision = st.selectbox("Precision", precisions, key=KEY + "precision")
    with controls[4]:
        runtime = st.selectbox(
            "Runtime",
            tables.runtime_choices(_runtimes(device), stored),
            key=KEY + "runtime",
            help="The inference runtime the latency was measured with. 'best': per model the "
            "fastest runtime whose outputs matched eager PyTorch fp32's (the hover names it).",
        )
    with controls[5]:
        overlay_on = st.toggle(
            "Overlay published GPU throughput",
            key=KEY + "overlay",
            help="timm's RTX 4090 benchmark (AMP, large batches): 1000 / images per second. "
            "That is time per image inside a big batch, not batch-1 latency.",
        )

    any_runtime = runtime == tables.BEST_RUNTIME
    rows = tables.for_runtime(_matching(stored, batch, precision), runtime)
    chosen_machines = _machine_choice(rows)
    if len(chosen_machines) > 1:  # overlaid: each machine's largest series
        frame = tables.overlay_frame(reference, rows, chosen_machines, any_runtime=any_runtime)
    else:
        measurements = _pick_series(tables.of_machines(rows, chosen_machines), any_runtime)
        frame = tables.compare_frame(reference, measurements, any_runtime=any_runtime)
    chart = st.empty()
    overlay = _published_gpu(view) if overlay_on else None
    _draw(chart, frame, axis, overlay, batch, accuracy_column)
    absent = accuracy.view_points(view).absent
    if absent:
        with st.expander(f"{len(absent)} models have no accuracy in this view"):
            st.markdown("\n".join(f"- `{a.name}`: {a.reason}" for a in absent))
    n_measured = int(frame["latency_ms"].notna().sum())
    if axis == "latency" and n_measured == 0:
        st.info(
            f"No batch-{batch} {precision} latency measured on {device} yet: measure some "
            "models below (or switch the x axis to MACs or params)."
        )

    frame = _measure_section(
        reference,
        frame,
        store,
        (device, batch, precision, runtime),
        chart,
        axis,
        overlay,
        accuracy_column,
    )

    _cluster_section(store, reference, (device, batch, precision, runtime))

    st.subheader("The table behind the chart")
    st.dataframe(
        frame,
        key=KEY + "table",
        hide_index=True,
        column_config={
            "top1_source": st.column_config.TextColumn("top-1 source", width="small"),
            "top1_source_url": st.column_config.LinkColumn("source URL", width="small"),
            "eval_px": st.column_config.NumberColumn(
                "accuracy px",
                help="input size the accuracy was measured at (empty: the source does not say)",
            ),
            "resolution_px": st.column_config.NumberColumn(
                "latency px", help="input size the zoo measures latency at"
            ),
            "same_network": st.column_config.CheckboxColumn(
                "same network",
                help="the accuracy was measured on the very timm network the zoo times",
            ),
            "loadable_here": st.column_config.CheckboxColumn(
                "weights here", help="weights for it load offline on this machine"
            ),
            "gmacs": st.column_config.NumberColumn("GMACs", format="%.3f"),
            "latency_ms": st.column_config.NumberColumn("latency ms (median)", format="%.2f"),
            "latency_ms_p90": st.column_config.NumberColumn("p90 ms", format="%.2f"),
        },
    )
    st.download_button(
        "Download CSV",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"effscale-compare-{device}-{view}.csv",
        mime="text/csv",
        key=KEY + "download",
    )
    if store is not None:
        with st.expander("All stored measurements"):
            try:
                st.download_button(
                    "Download the measurement store (JSON)",
                    store.export("json"),
                    file_name="effscale-measurements.json",
                    mime="application/json",
                    key=KEY + "download_store",
                )
            except Exception as exc:  # noqa: BLE001
                st.error(f"Cannot export the store: {exc}")


@st.cache_resource(show_spinner=False)
def _runtimes(device: str) -> tuple[str, ...]:
    """'best', then every runtime that runs on ``device`` here."""
    from zoo.measure import available_runtimes

    return (tables.BEST_RUNTIME, *available_runtimes("cuda:0" if device == "cuda" else device))


def _pick_series(measurements: list[dict], any_runtime: bool = False) -> list[dict]:
    """One series of measurements (one protocol on one machine): a chart never mixes them."""
    series = tables.split_series(measurements, any_runtime=any_runtime)
    if not series:
        return []
    index = 0
    if len(series) > 1:
        index = st.selectbox(
            "Protocol (the chart shows one; the measurements of the others are kept)",
            range(len(series)),
            format_func=lambda i: f"{series[i][0]} ({len(series[i][1])} points)",
            key=KEY + "series",
        )
    return list(series[index][1])


def _machine_choice(rows: list[dict]) -> list[str]:
    """The machines whose points the chart shows (a shared store holds several): this machine
    (or the one with the most models) unless others are chosen; several are overlaid."""
    found = tables.machines(rows)
    if len(found) < 2:
        return [key for key, _ in found]
    from zoo.environment import host_name, node_name

    labels = dict(found)
    try:
        here = node_name() or host_name()
    except ValueError:  # a bad EFFSCALE_NODE: measuring says so; here, just no default
        here = ""
    default = here if here in labels else found[0][0]
    chosen = st.multiselect(
        "Machine",
        list(labels),
        default=[default],
        format_func=labels.__getitem__,
        key=KEY + "machines",
        help="The store holds measurements from several machines: one machine's points, or "
        "several overlaid (a colour per machine, each machine's own protocol series).",
    )
    return chosen or [default]


def _cluster_section(store, reference: pd.DataFrame, choice: tuple) -> None:
    """Measure chosen models on every selected node of a Ray cluster: offered with a shared
    (PostgreSQL) store only; started in the background (``zoo.cluster.start_dispatch``) and
    followed here through its jobs."""
    if store is None or store.path is not None:
        return
    from zoo.build import spec_from_timm
    from zoo.jobs import jobs
    from zoo.protocol import Protocol

    device, batch, precision, runtime = choice
    group_key = KEY + "ray_group"
    with st.expander("Measure on a Ray cluster (each selected node)"):
        st.caption(
            "Each chosen model on each selected node, into this store; the chart's Machine "
            "choice shows the nodes' points as they land (docs/scale-out.md)."
        )
        address = st.text_input(
            "Ray head (HOST:PORT)",
            value=os.environ.get("EFFSCALE_RAY", ""),
            key=KEY + "ray_address",
        )
        selector = st.text_input(
            "Nodes", value="all", key=KEY + "ray_nodes", help="all, or LABEL=VALUE"
        )
        models = st.multiselect("Models", list(reference["model"]), key=KEY + "ray_models")
        if st.button("Measure on the cluster", key=KEY + "ray_start", disabled=not models):
            try:
                from zoo.cluster import start_dispatch

                resolution_of = {str(r.model): int(r.resolution_px) for r in reference.itertuples()}
                specs = [spec_from_timm(m, resolution=resolution_of.get(m)) for m in models]
                protocol = Protocol(
                    device=device,
                    batch_size=batch,
                    precision=precision,
                    runtime="eager" if runtime == tables.BEST_RUNTIME else runtime,
                )
                st.session_state[group_key] = start_dispatch(
                    store.location, specs, protocol, address=address, selector=selector
                ).group
            except ValueError as exc:  # ZooError: the address, the nodes, the store
                st.error(str(exc))
        group = st.session_state.get(group_key)
        if group:
            found = jobs(store, group=group)
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
            st.button("Refresh", key=KEY + "ray_refresh")


def _matching(measurements: list[dict], batch: int, precision: str) -> list[dict]:
    return [
        m for m in measurements if m.get("batch_size") == batch and m.get("precision") == precision
    ]


def _draw(
    chart,
    frame: pd.DataFrame,
    axis: str,
    overlay: pd.DataFrame | None,
    batch: int,
    accuracy_column: str = "top1_pct",
) -> None:
    if frame[tables.MACHINE_COLUMN].nunique() > 1:  # several machines overlaid
        chart.plotly_chart(
            figures.machines_figure(frame, axis, batch_size=batch, accuracy_column=accuracy_column)
        )
        return
    chart.plotly_chart(
        figures.compare_figure(
            frame, axis, overlay, batch_size=batch, accuracy_column=accuracy_column
        )
    )


def _accuracy_axis(store, reference: pd.DataFrame, view: str) -> tuple[pd.DataFrame, str]:
    """The y-axis choice: the view's published top-1, or the top-1 on one evaluated folder
    (offered only where the store holds evaluations). Returns the reference and its column."""
    evaluations = [e.to_dict() for e in store.evaluations()] if store is not None else []
    sets = tables.evaluation_sets(evaluations)
    if not sets:
        return reference, "top1_pct"
    labels = {"published": f"published top-1 ({accuracy.get_view(view).label})"}
    labels.update({fingerprint: f"top-1 on your data: {label}" for fingerprint, label in sets})
    choice = st.radio(
        "y axis",
        list(labels),
        format_func=labels.__getitem__,
        key=KEY + "accuracy_axis",
        help="Your data: accuracies stored by `python -m zoo evaluate DIR --model NAME` "
        "(one folder at a time, identified by its content fingerprint).",
    )
    if choice == "published":
        return reference, "top1_pct"
    st.caption(
        f"{labels[choice]}; fingerprint {choice[:12]}. Only evaluated models are plotted, with "
        "latency at the input size they were evaluated at; the published overlay is off."
    )
    return tables.own_accuracy_reference(reference, evaluations, choice), tables.OWN_TOP1


def _measure_section(
    reference, frame, store, choice, chart, axis, overlay, accuracy_column
) -> pd.DataFrame:
    """The measuring controls; returns the frame with any newly landed points."""
    from zoo.build import spec_from_timm
    from zoo.locking import measurement_in_progress
    from zoo.measure import measure, sweep_best
    from zoo.protocol import Protocol

    device, batch, precision, runtime = choice
    any_runtime = runtime == tables.BEST_RUNTIME

    st.subheader("Measure missing points")
    missing = [
        str(m) for m, lat in zip(frame["model"], frame["latency_ms"], strict=True) if pd.isna(lat)
    ]
    chosen = st.multiselect(
        f"Models without a batch-{batch} {precision} point on {device} "
        "(choose batch, precision and device above)",
        missing,
        key=KEY + "models",
    )
    if measurement_in_progress():
        st.warning("Another measurement is running right now; yours will wait for it.")
    start = st.button(
        "Measure",
        key=KEY + "start",
        disabled=not chosen,
        type="primary",
        help="One model at a time, under the zoo's lock; each point is stored and drawn when "
        "it lands.",
    )
    if not start:
        return frame
    st.button("Stop", key=KEY + "stop", help="Stops after the model being timed.")
    progress = st.progress(0.0, text=f"0 / {len(chosen)} measured")
    try:
        protocol = Protocol(
            device=device,
            batch_size=batch,
            precision=precision,
            runtime="eager" if any_runtime else runtime,
        )
    except ValueError as exc:  # ZooError: an unsupported combination
        st.error(f"Cannot measure with this protocol: {exc}")
        return frame
    resolution_of = {str(r.model): int(r.resolution_px) for r in reference.itertuples()}
    landed: list[dict] = []
    failures = 0
    merged = frame

    def waiting() -> None:
        progress.progress(0.0, text="waiting for another measurement to finish…")

    for i, model in enumerate(chosen):
        progress.progress(i / len(chosen), text=f"{i} / {len(chosen)} measured; timing {model}…")
        try:
            spec = spec_from_timm(model, resolution=resolution_of.get(model))
            if any_runtime:  # every runtime, each stored; the fastest verified one drawn
                best = sweep_best([spec], protocol, store=store, on_wait=waiting)
                result = best.best[0]
                if result is None:
                    raise ValueError("; ".join(reason for _, _, reason in best.failures))
            else:
                result = measure(spec, protocol, store=store, on_wait=waiting)
        except Exception as exc:  # noqa: BLE001 - one model failing must not stop the others
            failures += 1
            st.error(f"{model}: {exc}")
            continue
        landed.append(result.to_dict())
        # Redraw with every point of this protocol's series that has landed so far.
        stored = _measurement_dicts(store, device) if store is not None else landed
        series = tables.series_key(result.to_dict(), any_runtime=any_runtime)
        so_far = [
            m
            for m in tables.for_runtime(stored, runtime)
            if tables.series_key(m, any_runtime=any_runtime) == series
        ]
        merged = tables.compare_frame(reference, so_far, any_runtime=any_runtime)
        _draw(chart, merged, axis, overlay, batch, accuracy_column)
    progress.progress(
        1.0,
        text=f"{len(landed)} / {len(chosen)} measured"
        + (f", {failures} failed" if failures else ""),
    )
    if store is None and landed:
        st.info("Not stored (no writable store): these points vanish on the next rerun.")
    return merged
