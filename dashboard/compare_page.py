"""Compare page: ImageNet top-1 against latency measured on this machine, MACs or params.

Accuracies come from one *accuracy view* at a time (``data.accuracy``: the paper's Table 2, timm
ImageNet-1k only, torchvision, Keras, or the best available with any pre-training), chosen on the
page and kept in the URL (``?acc=``), so that the chart and its Pareto front compare like with
like. Latencies come from the zoo's measurement store for the chosen device, at the input size of
the view's row.

Measuring is never done in this script: "Measure" queues jobs in the store and a worker process
runs them (``dashboard.queue_panel``); a live panel shows every session the queue and reruns the
page as points land. A first visit on a machine with no measurement queues a small default sweep,
and the chart shows MACs until latency points arrive. A point measured on a busy machine is drawn
hollow and says so.

Your own configurations (from the explorer's "Measure and compare this configuration", kept in
the URL as ``?cfg=``, ``dashboard.configs``) are a series of their own: exact MACs and params,
latency once measured, and top-1 as the explorer's estimate with its leave-one-out error as a
vertical bar; they join the Pareto front only if asked.

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

from dashboard import configs, figures, queue, queue_panel, tables
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


def _store(location: str | None):
    return queue_panel.open_store(location)


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
    location = queue_panel.store_location()
    store, store_problem = _store(location)
    if store_problem:
        st.info(store_problem)
    elif queue_panel.worker_enabled():
        queue_panel.start_worker(location)
    user_configs = _user_configs()
    reference, accuracy_column = _accuracy_axis(store, reference, view)
    device, batch, precision, runtime, axis, overlay_on, stored = _controls(store)

    if store is not None:
        resolutions = _resolutions(_reference(view))
        for problem in queue_panel.first_run_sweep(store, resolutions):
            st.error(f"First-run sweep: {problem}")
    # What the chart is drawn from; the live panel reruns the page when this changes.
    seen = queue_panel.signature(store) if store is not None else ()

    any_runtime = runtime == tables.BEST_RUNTIME
    rows = tables.for_runtime(_matching(stored, batch, precision), runtime)
    chosen_machines = _machine_choice(rows)
    measurements = _pick_series(tables.of_machines(rows, chosen_machines[:1]), any_runtime)
    overlaid = len(chosen_machines) > 1
    if overlaid:  # each machine's largest series, a colour per machine
        frame = tables.overlay_frame(reference, rows, chosen_machines, any_runtime=any_runtime)
    else:
        frame = tables.compare_frame(reference, measurements, any_runtime=any_runtime)
    user = configs.user_frame(user_configs, _config_latencies(user_configs, measurements))
    own_axis = accuracy_column != "top1_pct"
    n_measured = int(frame["latency_ms"].notna().sum()) + int(user["latency_ms"].notna().sum())
    drawn = axis
    if axis == "latency" and n_measured == 0 and not own_axis:
        drawn = "macs"
        st.info(
            f"No batch-{batch} {precision} latency on {device} yet, so the chart shows MACs "
            "meanwhile; latency points replace it as they land (queue below)."
        )
    include_user = False
    if user_configs and not own_axis and not overlaid:
        include_user = st.toggle(
            "Include your configurations in the Pareto front",
            key=KEY + "user_pareto",
            help="Their top-1 is an estimate, not a published result: off by default.",
        )
    overlay = _published_gpu(view) if overlay_on else None
    if overlaid:
        st.plotly_chart(
            figures.machines_figure(
                frame, drawn, batch_size=batch, accuracy_column=accuracy_column
            ),
            key=KEY + "chart",
        )
        if user_configs:
            st.caption("Your configurations are drawn when one machine is chosen.")
    else:
        st.plotly_chart(
            figures.compare_figure(
                frame,
                drawn,
                overlay,
                batch_size=batch,
                accuracy_column=accuracy_column,
                user=user,
                user_in_pareto=include_user,
            ),
            key=KEY + "chart",
        )
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

    if store is not None:
        queue_panel.live(store, location, seen)
    protocols = _protocols(device, batch, precision, runtime)
    _your_configurations(store, user_configs, user, protocols)
    _measure_section(store, reference, frame, protocols, (device, batch, precision, runtime))
    _cluster_section(store, reference, (device, batch, precision, runtime))
    _table_section(frame, store, device, view)


def _controls(store) -> tuple[str, int, str, str, str, bool, list[dict]]:
    """Device, batch, precision, runtime, x axis, the published overlay toggle, and the stored
    measurements on the device (a shared store offers other machines' devices and runtimes)."""
    from zoo.protocol import PRECISIONS

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
    return device, batch, precision, runtime, axis, overlay_on, stored


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
            "choice shows the nodes' points as they land (docs/scale-out.md). One runtime per "
            "cluster run: with 'best' chosen above, the nodes measure eager."
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

                resolution_of = _resolutions(reference)
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


def _resolutions(reference: pd.DataFrame) -> dict[str, int]:
    """{model: the input size the zoo measures it at} for the reference rows."""
    return {str(r.model): int(r.resolution_px) for r in reference.itertuples()}


def _matching(measurements: list[dict], batch: int, precision: str) -> list[dict]:
    return [
        m for m in measurements if m.get("batch_size") == batch and m.get("precision") == precision
    ]


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


# --------------------------------------------------------------------------- your configurations


def _user_configs() -> list[configs.UserConfig]:
    """The configurations in the URL (``?cfg=``, repeated), read once per session; the page
    keeps the URL in step as they are removed."""
    state_key = KEY + "configs"
    if state_key not in st.session_state:
        found, warnings = configs.parse_params(st.query_params.get_all(configs.CONFIG_PARAM))
        st.session_state[state_key] = found
        st.session_state[KEY + "config_warnings"] = warnings
    for warning in st.session_state.get(KEY + "config_warnings", []):
        st.warning(f"URL: {warning}")
    current: list[configs.UserConfig] = st.session_state[state_key]
    tokens = [c.token for c in current]
    if st.query_params.get_all(configs.CONFIG_PARAM) != tokens:
        st.query_params[configs.CONFIG_PARAM] = tokens
    return current


def _config_latencies(
    user_configs: list[configs.UserConfig], measurements: list[dict]
) -> dict[str, dict]:
    """The chart series' newest measurement of each configuration (clean before noisy), by
    token."""
    if not user_configs or not measurements:
        return {}
    by_model: dict[tuple[str, int], dict] = {}
    for m in measurements:
        key = (str(m.get("model")), int(m.get("resolution") or 0))
        old = by_model.get(key)
        rank = (m.get("quality") != "noisy", str(m.get("measured_at", "")))
        if old is None or rank >= (old.get("quality") != "noisy", str(old.get("measured_at", ""))):
            by_model[key] = m
    out: dict[str, dict] = {}
    for config in user_configs:
        spec = configs.spec_of(config)
        m = by_model.get((spec.model, spec.resolution))
        if m is not None:
            out[config.token] = {**m, "protocol": tables.protocol_label(m)}
    return out


def _your_configurations(store, user_configs, user: pd.DataFrame, protocols) -> None:
    if not user_configs:
        return
    st.subheader("Your configurations")
    st.caption(
        "From the explorer (“Measure and compare this configuration”); they are in this page's "
        "URL, so a link shares them. Top-1 is the explorer's estimate (a line fitted to the "
        "published B0–B7 top-1 against log MACs; ± its leave-one-out RMSE), not a measurement."
    )
    shown = user[["label", "token", "params_m", "gmacs", "resolution_px", "top1_estimate_pct",
                  "top1_loo_rmse_pct", "latency_ms", "quality", "runtime"]]  # fmt: skip
    st.dataframe(
        shown,
        hide_index=True,
        key=KEY + "user_table",
        column_config={
            "top1_estimate_pct": st.column_config.NumberColumn("top-1 estimate %", format="%.1f"),
            "top1_loo_rmse_pct": st.column_config.NumberColumn("± LOO RMSE", format="%.2f"),
            "gmacs": st.column_config.NumberColumn("GMACs", format="%.3f"),
            "params_m": st.column_config.NumberColumn("params (M)", format="%.2f"),
            "latency_ms": st.column_config.NumberColumn("latency ms", format="%.2f"),
        },
    )
    left, right = st.columns(2)
    unmeasured = [
        c for c, lat in zip(user_configs, user["latency_ms"], strict=True) if pd.isna(lat)
    ]
    with left:
        if (
            store is not None
            and unmeasured
            and st.button(
                f"Measure {len(unmeasured)} unmeasured configuration(s) with this protocol",
                key=KEY + "measure_configs",
            )
        ):
            _submit(store, [configs.spec_of(c) for c in unmeasured], protocols)
    with right:
        drop = st.multiselect(
            "Remove from the chart",
            [c.token for c in user_configs],
            format_func={c.token: c.label for c in user_configs}.__getitem__,
            key=KEY + "drop_configs",
        )
        if drop and st.button("Remove", key=KEY + "remove_configs"):
            st.session_state[KEY + "configs"] = [c for c in user_configs if c.token not in drop]
            del st.session_state[KEY + "drop_configs"]
            st.rerun()


# --------------------------------------------------------------------------- measuring


def _protocols(device: str, batch: int, precision: str, runtime: str) -> list:
    """The protocols a "Measure" asks for: the chosen runtime, or for 'best' every runtime that
    builds quickly here (torch.compile and TensorRT only when chosen by name: minutes each)."""
    from zoo.measure import COMPILING_RUNTIMES
    from zoo.protocol import Protocol

    names = [runtime]
    if runtime == tables.BEST_RUNTIME:
        names = [r for r in _runtimes(device)[1:] if r not in COMPILING_RUNTIMES]
    out = []
    for name in names:
        try:
            out.append(Protocol(device=device, batch_size=batch, precision=precision, runtime=name))
        except ValueError:  # ZooError: this runtime cannot run this combination
            continue
    return out


def _submit(store, specs: list, protocols: list) -> list[int]:
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


def _measure_section(store, reference, frame, protocols, choice) -> None:
    """Queue measurements of the reference models without a point."""
    from zoo.build import spec_from_timm

    device, batch, precision, runtime = choice
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
        f"Models without a batch-{batch} {precision} point on {device} "
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
    resolution_of = _resolutions(reference)
    specs = []
    for model in chosen:
        try:
            specs.append(spec_from_timm(model, resolution=resolution_of.get(model)))
        except Exception as exc:  # noqa: BLE001 - ZooError: not a model timm can build here
            st.error(f"{model}: {exc}")
    if specs:
        _submit(store, specs, protocols)
