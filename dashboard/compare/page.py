"""Compare page: ImageNet top-1 against latency measured on this machine, MACs or params, one
accuracy view at a time (docs/architecture.md, "The compare page"). Measuring is never done in
this script: it queues jobs a worker runs; the zoo is imported inside the functions that use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard.compare import measure_panel, your_configs
from dashboard.compare.choices import BATCH_SIZES, KEY, CompareChoice
from dashboard.compare.figure import COMPARE_AXES, compare_figure
from dashboard.compare.machines import (
    device_choices,
    machines,
    machines_figure,
    of_machines,
    overlay_frame,
    runtime_choices,
)
from dashboard.compare.own_data import OWN_TOP1, evaluation_sets, own_accuracy_reference
from dashboard.compare.reference import (
    ACCURACY_VIEW_PARAM,
    accuracy_view_from_query,
    published_gpu_frame,
    reference_frame,
    resolutions_of,
)
from dashboard.compare.series import compare_frame, for_runtime, split_series
from dashboard.explorer import configs
from dashboard.measuring import queue_panel
from data import accuracy

if TYPE_CHECKING:
    from zoo import MeasurementStore

__all__ = ["render"]


@st.cache_data(show_spinner=False)
def _reference(view: str) -> pd.DataFrame:
    return reference_frame(view)


@st.cache_data(show_spinner=False)
def _published_gpu(view: str) -> pd.DataFrame:
    return published_gpu_frame(reference_frame(view))


def _accuracy_view() -> str:
    """The accuracy-view control: read from the URL once per session, written back on change.

    A bad ``?acc=`` value falls back to the default view with a warning; only this page's own
    parameter is touched.
    """
    widget = KEY + "view"
    if widget not in st.session_state:
        params = {key: st.query_params.get_all(key) for key in st.query_params}
        st.session_state[widget], st.session_state[KEY + "view_warnings"] = (
            accuracy_view_from_query(params)
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
    if st.query_params.get(ACCURACY_VIEW_PARAM) != key:
        st.query_params[ACCURACY_VIEW_PARAM] = key
    st.caption(accuracy.get_view(key).rule)
    return key


def _store(location: str | None):
    return queue_panel.open_store(location)


@st.cache_resource(show_spinner=False)
def _devices() -> tuple[str, ...]:
    """Devices this machine can measure on."""
    from zoo import cuda_present

    return ("cuda", "cpu") if cuda_present() else ("cpu",)


def _measurement_dicts(store: MeasurementStore | None, device: str) -> list[dict]:
    if store is None:
        return []
    return [row.to_dict() for row in store.rows(device=device)]


def render() -> None:
    st.title("Latency against accuracy")
    st.caption(
        "ImageNet top-1 from one set of published evaluations (the accuracy source below; "
        "source, checkpoint and training data are in each hover) against latency measured on "
        "this machine by the zoo, or against MACs or parameters. The dotted line is the Pareto "
        "front within that set: no other model in it is both faster (or cheaper) and more "
        "accurate."
    )
    view = _accuracy_view()
    location = queue_panel.store_location()
    store, store_problem = _store(location)
    if store_problem:
        st.info(store_problem)
    elif queue_panel.worker_enabled():
        queue_panel.start_worker(location)
    user_configs = your_configs.from_url()
    reference, accuracy_column = _accuracy_axis(store, _reference(view), view)
    choice, stored = _controls(store)
    if store is not None:
        for problem in queue_panel.first_run_sweep(store, resolutions_of(_reference(view))):
            st.error(f"First-run sweep: {problem}")
    # What the chart is drawn from; the live panel reruns the page when this changes.
    seen = queue_panel.signature(store) if store is not None else ()
    frame, user, overlaid = _chart(view, reference, accuracy_column, choice, stored, user_configs)
    _notes(view, frame, user)
    if store is not None:
        queue_panel.live(store, location, seen)
    protocols = measure_panel.protocols_for(choice, _runtimes(choice.device))
    your_configs.section(store, user_configs, user, protocols)
    measure_panel.missing_points(store, reference, frame, protocols, choice)
    measure_panel.cluster(store, reference, choice)
    _table_section(frame, store, choice.device, view)


def _chart(view, reference, accuracy_column, choice, stored, user_configs):
    """Draw the chart for ``choice``; the frame behind it, the user's configurations' frame, and
    whether several machines are overlaid."""
    rows = for_runtime(_matching(stored, choice.batch, choice.precision), choice.runtime)
    chosen_machines = _machine_choice(rows)
    measurements = _pick_series(of_machines(rows, chosen_machines[:1]), choice.any_runtime)
    overlaid = len(chosen_machines) > 1
    if overlaid:  # each machine's largest series, a colour per machine
        frame = overlay_frame(reference, rows, chosen_machines, any_runtime=choice.any_runtime)
    else:
        frame = compare_frame(reference, measurements, any_runtime=choice.any_runtime)
    user = configs.user_frame(user_configs, your_configs.latencies(user_configs, measurements))
    own_axis = accuracy_column != "top1_pct"
    n_measured = int(frame["latency_ms"].notna().sum()) + int(user["latency_ms"].notna().sum())
    drawn = choice.axis
    if drawn == "latency" and n_measured == 0 and not own_axis:
        drawn = "macs"
        st.info(
            f"No batch-{choice.batch} {choice.precision} latency on {choice.device} yet, so the "
            "chart shows MACs meanwhile; latency points replace it as they land (queue below)."
        )
    if overlaid:
        figure = machines_figure(
            frame, drawn, batch_size=choice.batch, accuracy_column=accuracy_column
        )
        if user_configs:
            st.caption("Your configurations are drawn when one machine is chosen.")
    else:
        include_user = (
            bool(user_configs)
            and not own_axis
            and st.toggle(
                "Include your configurations in the Pareto front",
                key=KEY + "user_pareto",
                help="Their top-1 is an estimate, not a published result: off by default.",
            )
        )
        figure = compare_figure(
            frame,
            drawn,
            _published_gpu(view) if choice.overlay else None,
            batch_size=choice.batch,
            accuracy_column=accuracy_column,
            user=user,
            user_in_pareto=include_user,
        )
    st.plotly_chart(figure, key=KEY + "chart")
    return frame, user, overlaid


def _notes(view: str, frame: pd.DataFrame, user: pd.DataFrame) -> None:
    """What the chart leaves out or marks: noisy points, models without an accuracy."""
    noisy = int((frame["quality"] == "noisy").sum()) + int((user["quality"] == "noisy").sum())
    if noisy:
        st.warning(
            f"{noisy} point(s) were measured while the machine was busy (drawn hollow; the hover "
            "says why). The worker measures them again when the machine is quiet."
        )
    absent = accuracy.view_points(view).absent
    if absent:
        with st.expander(f"{len(absent)} models have no accuracy in this view"):
            st.markdown("\n".join(f"- `{a.name}`: {a.reason}" for a in absent))


def _controls(store) -> tuple[CompareChoice, list[dict]]:
    """The chart's settings, and the stored measurements on the chosen device (a shared store
    offers other machines' devices and runtimes)."""
    from zoo import precisions_on

    devices = device_choices(_devices(), store.devices() if store is not None else ())
    controls = st.columns([3, 1, 1, 1, 1, 2])
    with controls[0]:
        axis = st.radio(
            "x axis",
            tuple(COMPARE_AXES),
            format_func={"latency": "latency (ms)", "macs": "MACs", "params": "params"}.get,
            horizontal=True,
            key=KEY + "axis",
        )
    with controls[1]:
        device = st.selectbox("Device", devices, key=KEY + "device")
    stored = _measurement_dicts(store, device)
    with controls[2]:
        batch = st.selectbox("Batch", BATCH_SIZES, key=KEY + "batch")
    with controls[3]:
        precision = st.selectbox("Precision", precisions_on(device), key=KEY + "precision")
    with controls[4]:
        runtime = st.selectbox(
            "Runtime",
            runtime_choices(_runtimes(device), stored),
            key=KEY + "runtime",
            help="The inference runtime the latency was measured with. 'best': per model the "
            "fastest runtime whose outputs matched eager PyTorch fp32's (the hover names it).",
        )
    with controls[5]:
        overlay = st.toggle(
            "Overlay published GPU throughput",
            key=KEY + "overlay",
            help="timm's RTX 4090 benchmark (AMP, large batches): 1000 / images per second. "
            "That is time per image inside a big batch, not batch-1 latency.",
        )
    return CompareChoice(device, batch, precision, runtime, axis, overlay), stored


def _table_section(frame: pd.DataFrame, store, device: str, view: str) -> None:
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
            "quality": st.column_config.TextColumn(
                "quality", help="noisy: the machine was busy while it was timed"
            ),
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
    from zoo import BEST, available_runtimes

    return (BEST, *available_runtimes("cuda:0" if device == "cuda" else device))


def _pick_series(measurements: list[dict], any_runtime: bool = False) -> list[dict]:
    """One series of measurements (one protocol on one machine): a chart never mixes them."""
    series = split_series(measurements, any_runtime=any_runtime)
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
    found = machines(rows)
    if len(found) < 2:
        return [key for key, _ in found]
    from zoo import host_name, node_name

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


def _matching(measurements: list[dict], batch: int, precision: str) -> list[dict]:
    return [
        m for m in measurements if m.get("batch_size") == batch and m.get("precision") == precision
    ]


def _accuracy_axis(store, reference: pd.DataFrame, view: str) -> tuple[pd.DataFrame, str]:
    """The y-axis choice: the view's published top-1, or the top-1 on one evaluated folder
    (offered only where the store holds evaluations). Returns the reference and its column."""
    evaluations = [e.to_dict() for e in store.evaluations()] if store is not None else []
    sets = evaluation_sets(evaluations)
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
    return own_accuracy_reference(reference, evaluations, choice), OWN_TOP1
