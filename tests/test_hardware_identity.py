"""Which machine a result comes from: the host name recorded with every result, the GPU driver
and the cluster node's name in the environment's key, and the keys stored before them unchanged.

The golden keys below were computed by the key function as it was before these fields existed
(commit 2a1af36), not by the code under test: a store made then must still find its rows.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from tests.fakes import fake_measurement
from tests.test_jobs import QUICK, stub_result
from zoo.cli.report import format_measurements
from zoo.errors import ZooError
from zoo.measure import orchestrate
from zoo.models.spec import spec_from_phi
from zoo.records.environment import Environment, environment_for
from zoo.store.measurement_store import MeasurementStore

CPU = Environment("cpu", "Intel(R) Xeon(R) CPU", "Intel(R) Xeon(R) CPU", 2, "2.14.1", "1.0.31")
GPU = Environment("cuda:0", "NVIDIA H100 80GB HBM3", "AMD EPYC 9654", 16, "2.14.1", "1.0.31")


def test_keys_stored_before_the_identity_fields_are_unchanged():
    assert CPU.key == "caccf616c5a8303d"
    assert replace(CPU, runtime_version="1.23.0").key == "675b0e6db23af3fc"
    assert GPU.key == "0796188cd1022ee2"
    # The host name is recorded, not keyed: alike machines measure the same thing.
    assert replace(CPU, host="box-a").key == replace(CPU, host="box-b").key == CPU.key


def test_a_node_name_and_a_gpu_driver_are_part_of_the_key():
    keys = {
        CPU.key,
        replace(CPU, node="n-a").key,
        replace(CPU, node="n-b").key,
        replace(GPU, gpu_driver="550.54.15").key,
        replace(GPU, gpu_driver="570.86.10").key,
        GPU.key,
    }
    assert len(keys) == 6


def test_the_environment_names_this_machine(monkeypatch):
    monkeypatch.delenv("EFFSCALE_NODE", raising=False)
    env = environment_for(QUICK)
    assert env.host == socket.gethostname() and env.node == "" and env.gpu_driver == ""
    monkeypatch.setenv("EFFSCALE_NODE", "rack-2.box-7")
    named = environment_for(QUICK)
    assert named.node == "rack-2.box-7" and named.key != env.key
    for bad in ("two words", "-leading", "x" * 129, "a/b"):
        monkeypatch.setenv("EFFSCALE_NODE", bad)
        with pytest.raises(ZooError, match="not a usable node name: accepted"):
            environment_for(QUICK)


def test_results_carry_the_machine_and_a_node_measures_for_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    monkeypatch.setattr(orchestrate, "QUIET_WAIT_S", 0.0)
    stub = stub_result()
    monkeypatch.setattr(orchestrate, "measure_isolated", stub)
    spec = spec_from_phi(-3.0)
    monkeypatch.delenv("EFFSCALE_NODE", raising=False)
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        local = orchestrate.measure(spec, QUICK, store=store)
        monkeypatch.setenv("EFFSCALE_NODE", "n-a")
        on_node = orchestrate.measure(spec, QUICK, store=store)  # not the local result
        again = orchestrate.measure(spec, QUICK, store=store)
        rows = store.rows()
    assert local.host == on_node.host == socket.gethostname()
    assert (local.node, on_node.node) == ("", "n-a")
    assert stub.calls == [spec.model, spec.model] and again.from_store and again.node == "n-a"
    assert sorted(m.node for m in rows) == ["", "n-a"]


def test_the_table_names_each_node_and_its_machine():
    text = format_measurements(
        [
            fake_measurement(node="n-a", device_name="CPU A"),
            fake_measurement(node="n-b", device_name="CPU B"),
        ],
        "table",
    )
    assert "cpu@n-a" in text and "cpu@n-b" in text
    assert "# n-a: CPU A;" in text and "# n-b: CPU B;" in text
