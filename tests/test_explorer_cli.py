"""``python -m explorer``: JSON schema, formats and bad input (exit 2, one line, no traceback)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import main

ROOT = Path(__file__).resolve().parent.parent
STAGE_KEYS = {
    "kernel",
    "stride",
    "expand_ratio",
    "se_ratio",
    "in_channels",
    "out_channels",
    "repeats",
    "input_resolution",
    "output_resolution",
    "params",
    "macs",
}
TOP_KEYS = {
    "phi",
    "alpha",
    "beta",
    "gamma",
    "depth_multiplier",
    "width_multiplier",
    "resolution",
    "stem_channels",
    "head_channels",
    "params",
    "macs",
    "stages",
}


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_phi_list(capsys):
    assert main(["--phi", "0", "1", "-0.5", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["phi"] for r in rows] == [0.0, 1.0, -0.5]
    for row in rows:
        assert row.keys() >= TOP_KEYS
        assert len(row["stages"]) == 7
        assert row["stages"][0].keys() >= STAGE_KEYS
    assert rows[0]["params"] == 5_288_548
    assert rows[1]["alpha"] == 1.2


def test_json_explicit_has_null_phi(capsys):
    assert (
        main(["--width", "1.2", "--depth", "1.4", "--resolution", "300", "--format", "json"]) == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["phi"] is None
    assert row["params"] == 12_233_232  # torchvision B3


def test_json_variants(capsys):
    assert main(["--variant", "b0", "B7", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == ["b0", "b7"]
    assert rows[1]["resolution"] == 600


def test_custom_coefficients(capsys):
    assert (
        main(
            ["--phi", "2", "--alpha", "1.3", "--beta", "1.05", "--gamma", "1.2", "--format", "json"]
        )
        == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["depth_multiplier"] == pytest.approx(1.69)
    assert row["resolution"] == round(224 * 1.44)


def test_table_output(capsys):
    assert main(["--variant", "b0"]) == 0
    out = capsys.readouterr().out
    assert "5,288,548" in out and "MBConv6" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--phi", "nan"], "finite"),
        (["--phi", "inf"], "finite"),
        (["--phi", "1", "--alpha", "0"], "alpha must be > 0"),
        (["--phi", "1", "--beta", "-1"], "beta must be > 0"),
        (["--phi", "80"], "accepted"),
        (["--variant", "b42"], "accepted b0"),
        (["--width", "1", "--resolution", "5"], "accepted 32 to 4096"),
        (["--phi", "abc"], "not a number"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, fragment):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_repeated_flags_keep_every_value(capsys):
    assert main(["--phi", "1", "--phi", "2", "--variant", "b0", "--variant", "b1",
                 "--format", "json"]) == 0  # fmt: skip
    records = json.loads(capsys.readouterr().out)
    assert [r["phi"] for r in records[:2]] == [1.0, 2.0] and len(records) == 4


@pytest.mark.parametrize("value", ["-1e308", "-1E-3", "-inf", "-Infinity", "-nan", "-.5e2"])
def test_negative_float_spellings_are_values_not_options(capsys, value):
    status = main(["--phi", value, "--format", "json"])
    err = capsys.readouterr().err
    assert "expected at least one argument" not in err
    assert status in (0, 2)
    if status == 2:  # a value the explorer refuses, said as such
        assert "phi" in err or "resolution" in err
