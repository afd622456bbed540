"""Every JSON output of every CLI parses with a strict parser: no NaN, Infinity or -Infinity
tokens anywhere (hardening finding 4's class: ``--format json`` wrote ``NaN``)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from explorer.cli import main as explorer_main
from tests.fakes import fake_measurement
from zoo.cli.main import main as zoo_main
from zoo.measure import orchestrate
from zoo.store.measurement_store import MeasurementStore


def strict_loads(text: str):
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def run(main, argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = main(argv)
    return status, out.getvalue()


def test_the_strict_parser_refuses_non_finite_tokens():
    for text in ("[NaN]", '{"a": Infinity}', "[-Infinity]"):
        with pytest.raises(ValueError, match="not JSON"):
            strict_loads(text)


@pytest.mark.parametrize(
    "argv",
    [["--phi", "-2", "0", "3.5"], ["--variant", "b0", "l2"], ["--width", "16", "--depth", "16"]],
)
def test_explorer_json(argv):
    status, out = run(explorer_main, [*argv, "--format", "json"])
    assert status == 0 and strict_loads(out)


def _non_finite(spec, protocol, digests=None) -> dict:
    return {
        "params": 1, "macs": 1, "macs_backend": "aten", "latency_ms_median": 0.0,
        "latency_ms_p90": float("nan"), "latency_ms_mean": 0.0, "latency_ms_std": float("nan"),
        "throughput_ips": float("inf"), "iterations": 1, "latency_ms_min": 0.0,
        "peak_memory_mb": 1.0, "peak_memory_kind": "worker_peak_rss",
        "worker_rss_before_build_mb": None,
    }  # fmt: skip


def test_measure_and_export_json_with_non_finite_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(orchestrate, "measure_isolated", _non_finite)
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    store = str(tmp_path / "m.sqlite")
    argv = ["measure", "--phi", "-3", "--device", "cpu", "--store", store, "--format", "json"]
    status, out = run(zoo_main, argv)
    assert status == 0
    (record,) = strict_loads(out)
    assert record["throughput_ips"] is None and record["latency_ms_std"] is None
    with MeasurementStore(store) as s:  # a row put directly, with infinities
        s.put(fake_measurement(model="resnet50", throughput_ips=float("-inf")))
    status, out = run(zoo_main, ["export", "--format", "json", "--store", store])
    assert status == 0 and len(strict_loads(out)) == 2
    status, out = run(zoo_main, argv)  # served from the store, still strict
    assert status == 0 and strict_loads(out)[0]["from_store"] is True
