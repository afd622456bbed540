"""Hardware as a dimension of the compare page: a store holding several machines' measurements
(a shared PostgreSQL store, or rows measured on cluster nodes), one machine shown or several
overlaid, and the machine in the table and its CSV. The numbers are made up (``_fake``): the page
only displays them.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.compare import machines
from dashboard.compare import reference as compare_reference
from tests.plotly_json import read_chart as _chart
from tests.plotly_json import values as _values
from tests.test_app_compare import PAGE, TIMEOUT, _fake, _table
from zoo.store.measurement_store import MeasurementStore

MACHINES = {  # machine -> (device name, CPU, latency factor)
    "n-a": ("Intel(R) Xeon(R) Gold 6338", "Intel(R) Xeon(R) Gold 6338", 1.0),
    "n-b": ("AMD EPYC 9654", "AMD EPYC 9654", 0.5),
}


def _rows(machine: str) -> list:
    device, cpu, factor = MACHINES[machine]
    return [
        _fake(
            model,
            224,
            latency * factor,
            node=machine,
            host="vm",
            device_name=device,
            cpu_model=cpu,
            environment_key=f"env-{machine}",
        )  # fmt: skip
        for model, latency in (("efficientnet_b0", 12.0), ("resnet50", 30.0))
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_machines(request, tmp_path, monkeypatch):
    """A store with the same two models measured on two machines (nodes of one host)."""
    if request.param == "sqlite":
        location = str(tmp_path / "m.sqlite")
    else:
        location = request.getfixturevalue("postgres_server").create_database()
    with MeasurementStore(location) as store:
        for machine in MACHINES:
            for row in _rows(machine):
                store.put(row)
    monkeypatch.setenv("EFFSCALE_STORE", location)
    monkeypatch.setenv("EFFSCALE_NODE", "n-b")  # the page runs "on" n-b
    return location


def _points(at: AppTest) -> dict[str, list[float]]:
    return {
        trace["name"]: sorted(_values(trace["x"]))
        for trace in _chart(at)["data"]
        if trace.get("mode") == "markers+text"
    }


def test_one_machine_by_default_then_several_overlaid(two_machines):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    choice = at.multiselect(key="compare_machines")
    assert choice.value == ["n-b"]  # this machine first
    measured = _table(at).dropna(subset=["latency_ms"]).set_index("model")
    assert measured["latency_ms"].to_dict() == {"efficientnet_b0": 6.0, "resnet50": 15.0}
    assert set(measured["machine"]) == {"n-b"} and set(measured["cpu_model"]) == {"AMD EPYC 9654"}

    choice.set_value(["n-b", "n-a"]).run()
    assert not at.exception
    assert at.query_params["machine"] == ["n-b", "n-a"]  # shared as it is shown
    again = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    again.query_params["machine"] = ["n-b", "n-a"]
    again.run()
    assert again.multiselect(key="compare_machines").value == ["n-b", "n-a"]
    points = _points(at)
    assert points == {
        "n-b · AMD EPYC 9654": [6.0, 15.0],
        "n-a · Intel(R) Xeon(R) Gold 6338": [12.0, 30.0],
    }
    table = _table(at)
    assert sorted(zip(table["machine"], table["latency_ms"], strict=True)) == [
        ("n-a", 12.0), ("n-a", 30.0), ("n-b", 6.0), ("n-b", 15.0)
    ]  # fmt: skip
    hover = " ".join(h for t in _chart(at)["data"] for h in t.get("hovertext") or [])
    assert "<b>n-a</b>: Intel(R) Xeon(R) Gold 6338" in hover
    # The CSV download is this table (frame.to_csv): the machine travels with every row.
    csv = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    assert {"machine", "device", "cpu_model", "host"} <= set(csv.columns)
    assert set(csv["host"]) == {"vm"} and set(csv["device"]) == {m[0] for m in MACHINES.values()}


def test_cluster_runs_are_the_operators_decision(two_machines, monkeypatch):
    """No ``EFFSCALE_RAY``: no cluster section at all. With it: the operator's head only, shown
    read-only (no address to type); ``auto`` is refused; a run to a head that does not answer
    ends, and the page says how."""
    import time

    from zoo.workers import ray_background

    shared = two_machines.startswith("postgresql://")
    monkeypatch.delenv("EFFSCALE_RAY", raising=False)
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not any("Ray cluster" in e.label for e in at.expander)
    monkeypatch.setenv("EFFSCALE_RAY", "auto")
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert any("Cluster runs are off" in c.value for c in at.caption) == shared
    monkeypatch.setenv("EFFSCALE_RAY", "127.0.0.1:1")  # nothing listens there
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    labels = [e.label for e in at.expander]
    assert any("Ray cluster at 127.0.0.1:1" in label for label in labels) == shared
    if not shared:
        return
    assert not [t for t in at.text_input if t.key == "compare_ray_address"]
    at.multiselect(key="compare_ray_models").set_value(["efficientnet_b0"]).run()
    at.button(key="compare_ray_start").click().run()
    assert not at.exception and not at.error
    deadline = time.monotonic() + 90
    while ray_background.cluster_run_status()[1] is None:
        assert time.monotonic() < deadline, "the run to a silent head did not end"
        time.sleep(0.5)
    at.run()
    assert any("ended with status 2" in e.value and "cannot reach" in e.value for e in at.error)


def test_overlay_frame_keeps_each_machine_to_its_own_series():
    reference = compare_reference.reference_frame()
    rows = [r.to_dict() for m in MACHINES for r in _rows(m)]
    rows.append({**rows[0], "threads": 1, "latency_ms_median": 99.0, "environment_key": "x"})
    frame = machines.overlay_frame(reference, rows, ["n-a", "n-b"])
    assert sorted(zip(frame["machine"], frame["latency_ms"], strict=True)) == [
        ("n-a", 12.0), ("n-a", 30.0), ("n-b", 6.0), ("n-b", 15.0)
    ]  # fmt: skip
    assert machines.overlay_frame(reference, rows, ["nowhere"]).empty
    assert [key for key, _ in machines.machines(rows)] == ["n-a", "n-b"]
    assert len(machines.of_machines(rows, ["n-b"])) == 2


def test_another_machines_gpu_is_a_device_choice_here(tmp_path, monkeypatch):
    """This machine has no GPU; a node's GPU results in the shared store are still shown, with
    the runtime it measured that is not installed here."""
    location = str(tmp_path / "m.sqlite")
    with MeasurementStore(location) as store:
        store.put(
            _fake("efficientnet_b0", 224, 0.9, node="gpu-1", device="cuda:0",
                  device_name="NVIDIA H100 80GB HBM3", runtime="tensorrt",
                  runtime_version="2.14.0", environment_key="env-h100")
        )  # fmt: skip
    monkeypatch.setenv("EFFSCALE_STORE", location)
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert "cuda" in at.selectbox(key="compare_device").options
    at.selectbox(key="compare_device").set_value("cuda").run()
    assert "tensorrt" in at.selectbox(key="compare_runtime").options
    at.selectbox(key="compare_runtime").set_value("tensorrt").run()
    assert not at.exception
    measured = _table(at).dropna(subset=["latency_ms"])
    assert list(zip(measured["model"], measured["machine"], measured["device"], strict=True)) == [
        ("efficientnet_b0", "gpu-1", "NVIDIA H100 80GB HBM3")
    ]
