"""Compare page: ImageNet top-1 against latency measured on this machine, MACs or params, one
accuracy view at a time (docs/architecture.md, "The compare page"). Measuring is never done in
this script: it queues jobs a worker runs; the zoo is imported inside the functions that use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard.compare import measure_panel, scaling_curve, table, url_state, your_configs
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
from dashboard.compare.precision_accuracy import adjust_for_precision
from dashboard.compare.reference import (
    ACCURACY_VIEW_PARAM,
    accuracy_view_from_query,
    published_gpu_frame,
    reference_frame,
)
from dashboard.compare.series import compare_frame, for_runtime, split_series
from dashboard.explorer import configs
from dashboard.measuring import queue_panel, sweep
from dashboard.text import plural
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
    location = queue_panel.store_location()
    store, store_problem = _store(location)
    if store_problem:
        st.info(store_problem)
    elif queue_panel.worker_enabled():
        queue_panel.start_worker(location)
    if store is not None:
        first, later = measure_panel.sweep_specs(_reference)
        for problem in sweep.first_run_sweep(store, first, later):
            st.error(f"First-run sweep: {problem}")
    # What the chart is drawn from; the progress above it reruns the page when this changes.
    seen = queue_panel.signature(store) if store is not None else ()
    if store is not None:
        queue_panel.progress(store, location, seen)
    view = _accuracy_view()
    user_configs = your_configs.from_url()
    at_precision = _accuracy_axis(store, _reference(view), view)
    choice, stored = _controls(store)
    reference, accuracy_column = at_precision(choice.precision)
    for warning in url_state.warnings():
        st.warning(f"URL: {warning}")
    protocols = measure_panel.protocols_for(choice, _runtimes(choice.device))
    frame, user, curve = _chart(
        view, reference, accuracy_column, choice, stored, user_configs, store, protocols
    )
    _notes(view, frame, user)
    if "precision_accuracy" in frame.columns and choice.precision != "fp32" and len(frame):
        adjusted = int((frame["precision_accuracy"] == "adjusted").sum())
        st.caption(
            f"At {choice.precision}: {adjusted} of {len(frame)} models drawn at their published "
            f"fp32 top-1 adjusted by the drop measured on your images ({choice.precision} against "
            "eager fp32 on the same images, `python -m zoo evaluate DIR --precision "
            f"{choice.precision}`); the others (marker ×) at the published fp32 top-1, their "
            f"{choice.precision} accuracy not measured."
        )
    scaling_curve.budget_section(store, curve, protocols)
    measure_panel.view_missing(store, frame, protocols, choice, own=accuracy_column != "top1_pct")
    if store is not None:
        queue_panel.live(store, location, seen)
    your_configs.section(store, user_configs, user, protocols)
    measure_panel.missing_points(store, reference, frame, protocols, choice)
    measure_panel.cluster(store, reference, choice)
    table.section(frame, store, choice.device, view)


def _chart(view, reference, accuracy_column, choice, stored, user_configs, store, protocols):
    """Draw the chart for ``choice``; the frame behind it, the user's configurations' frame, and
    the predicted scaling curve drawn on it (None when not drawn)."""
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
    drawn = choice.axis
    if drawn == "latency":
        clean = int((frame["latency_ms"].notna() & (frame["quality"] != "noisy")).sum())
        waiting = sweep.sweep_waiting(store) if store is not None and not own_axis else None
        if waiting is not None and clean * 2 < waiting:
            drawn = "macs"
            st.info(
                f"The chart shows MACs until half of this machine's first measurements have "
                f"landed ({clean} of {waiting} so far, progress above); then latency, by "
                "itself. Any axis can be chosen meanwhile."
            )
        elif frame["latency_ms"].notna().sum() + user["latency_ms"].notna().sum() == 0:
            drawn = "macs"
            st.info(
                f"No batch-{choice.batch} {choice.precision} latency on {choice.device} with "
                f"{choice.runtime} here yet for these models, so the chart shows MACs; “Measure "
                "what this view is missing” below queues the latency points."
            )
    curve = None
    here = choice.device in _devices()  # a latency model is this machine's, for its devices
    if drawn == "latency" and not overlaid and not own_axis and protocols and here:
        curve = scaling_curve.curve_for(choice, protocols, rows)
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
            extra=scaling_curve.curve_traces(curve) if curve is not None else (),
        )
    st.plotly_chart(figure, key=KEY + "chart")
    return frame, user, curve


def _notes(view: str, frame: pd.DataFrame, user: pd.DataFrame) -> None:
    """What the chart leaves out or marks: noisy points, models without an accuracy."""
    noisy = int((frame["quality"] == "noisy").sum()) + int((user["quality"] == "noisy").sum())
    if noisy:
        st.warning(
            f"{plural(noisy, 'point')} provisional: measured while the machine was busy or "
            "its rounds disagreed (drawn hollow, labelled “?”; the hover says why). The worker "
            "measures them again when the machine is quiet."
        )
    absent = accuracy.view_points(view).absent
    if absent:
        with st.expander(f"{plural(len(absent), 'model')} not drawn in this view, and why"):
            st.markdown("\n".join(f"- `{a.name}`: {a.reason}" for a in absent))


def _controls(store) -> tuple[CompareChoice, list[dict]]:
    """The chart's settings, and the stored measurements on the chosen device (a shared store
    offers other machines' devices and runtimes)."""
    from zoo import precisions_on

    devices = device_choices(_devices(), store.devices() if store is not None else ())
    controls = st.columns([3, 1, 1, 1, 1, 2])
    url_state.from_url("axis", tuple(COMPARE_AXES))
    with controls[0]:
        axis = st.radio(
            "x axis",
            tuple(COMPARE_AXES),
            format_func={"latency": "latency (ms)", "macs": "MACs", "params": "params"}.get,
            horizontal=True,
            key=KEY + "axis",
        )
    url_state.from_url("device", devices)
    with controls[1]:
        device = st.selectbox("Device", devices, key=KEY + "device")
    stored = _measurement_dicts(store, device)
    url_state.from_url("batch", BATCH_SIZES)
    with controls[2]:
        batch = st.selectbox("Batch", BATCH_SIZES, key=KEY + "batch")
    precisions = precisions_on(device)
    url_state.from_url("precision", precisions)
    with controls[3]:
        precision = st.selectbox("Precision", precisions, key=KEY + "precision")
    runtimes = runtime_choices(_runtimes(device), stored)
    url_state.from_url("runtime", runtimes)
    with controls[4]:
        runtime = st.selectbox(
            "Runtime",
            runtimes,
            key=KEY + "runtime",
            help="The inference runtime the latency was measured with. 'best': per model the "
            "fastest runtime whose outputs matched eager PyTorch fp32's (the hover names it).",
        )
    url_state.from_url("overlay", (False, True))
    with controls[5]:
        overlay = st.toggle(
            "Overlay published GPU throughput",
            key=KEY + "overlay",
            help="timm's RTX 4090 benchmark (AMP, large batches): 1000 / images per second. "
            "That is time per image inside a big batch, not batch-1 latency.",
        )
    for widget, value, default in (
        ("axis", axis, "latency"),
        ("device", device, devices[0]),
        ("batch", batch, BATCH_SIZES[0]),
        ("precision", precision, precisions[0]),
        ("runtime", runtime, runtimes[0]),
        ("overlay", overlay, False),
    ):
        url_state.to_url(widget, value, default)
    return CompareChoice(device, batch, precision, runtime, axis, overlay), stored


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
    url_state.from_url("machines", list(labels), many=True)
    chosen = st.multiselect(
        "Machine",
        list(labels),
        default=[default],
        format_func=labels.__getitem__,
        key=KEY + "machines",
        help="The store holds measurements from several machines: one machine's points, or "
        "several overlaid (a colour per machine, each machine's own protocol series).",
    )
    url_state.to_url("machines", chosen, [default], show=str)
    return chosen or [default]


def _matching(measurements: list[dict], batch: int, precision: str) -> list[dict]:
    return [
        m for m in measurements if m.get("batch_size") == batch and m.get("precision") == precision
    ]


def _accuracy_axis(store, reference: pd.DataFrame, view: str):
    """The y-axis choice: the view's published top-1, or the top-1 on one evaluated folder
    (offered only where the store holds evaluations). Returns what gives, for the precision
    chosen below it, the reference and its column: a reduced precision's published top-1 is
    adjusted by the drop measured on your images, or marked as not measured."""
    evaluations = [e.to_dict() for e in store.evaluations()] if store is not None else []

    def published(precision: str) -> tuple[pd.DataFrame, str]:
        return adjust_for_precision(reference, evaluations, precision), "top1_pct"

    sets = evaluation_sets(evaluations)
    if not sets:
        return published
    labels = {"published": f"published top-1 ({accuracy.get_view(view).label})"}
    labels.update({fingerprint: f"top-1 on your data: {label}" for fingerprint, label in sets})
    url_state.from_url("accuracy_axis", list(labels))
    choice = st.radio(
        "y axis",
        list(labels),
        format_func=labels.__getitem__,
        key=KEY + "accuracy_axis",
        help="Your data: accuracies stored by `python -m zoo evaluate DIR --model NAME` "
        "(one folder at a time, identified by its content fingerprint).",
    )
    url_state.to_url("accuracy_axis", choice, "published", show=str)
    if choice == "published":
        return published
    st.caption(
        f"{labels[choice]}; fingerprint {choice[:12]}. Only evaluated models are plotted, with "
        "latency at the input size they were evaluated at, and top-1 measured at the chosen "
        "precision; the published overlay is off."
    )
    return lambda precision: (
        own_accuracy_reference(reference, evaluations, choice, precision),
        OWN_TOP1,
    )
