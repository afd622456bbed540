"""Classification on a verified deployment runtime: the same top-5 as eager PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.classify.classifier import classify, clear_cache
from zoo.cli.main import main
from zoo.errors import ZooError

pytestmark = pytest.mark.usefixtures("no_hub_cache")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    from skimage import data
    from skimage.io import imsave

    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        path = folder / f"{name}.png"
        imsave(path, getattr(data, name)())
        paths.append(path)
    return paths


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("EFFSCALE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    clear_cache()


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_same_top5_as_eager_on_the_test_photos(photos, runtime):
    eager = classify(photos, "tf_efficientnet_lite0", top_k=5)
    other = classify(photos, "tf_efficientnet_lite0", top_k=5, runtime=runtime)
    for a, b in zip(eager, other, strict=True):
        assert a.error is None and b.error is None
        assert [p.index for p in a.top] == [p.index for p in b.top]
        assert a.top[0].probability == pytest.approx(b.top[0].probability, abs=1e-4)
    assert "tabby" in eager[0].top[0].label or "tiger cat" in eager[0].top[0].label


def test_an_unknown_classification_runtime_is_refused():
    with pytest.raises(ZooError, match="accepted eager, onnxruntime, openvino"):
        classify([b"x"], "tf_efficientnet_lite0", runtime="tensorrt")


def test_cli_classify_on_a_runtime(photos, capsys):
    status = main(
        ["classify", str(photos[1]), "--model", "tf_efficientnet_lite0", "--runtime",
         "openvino", "--format", "json"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    (result,) = json.loads(out)
    assert result["top"][0]["label"].startswith("espresso")
